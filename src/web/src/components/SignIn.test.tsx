import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { liveAndLoaded, signedOut } from "../test/render";

describe("signing up, out and in", () => {
  it("signs up into the app, and signing out shows a clean sign-in form", async () => {
    const { user, api } = signedOut();
    await user.click(screen.getByTestId("auth-toggle"));
    await user.type(screen.getByLabelText(/display name/i), "Ada");
    await user.type(screen.getByTestId("auth-email"), "ada@example.com");
    await user.type(screen.getByTestId("auth-password"), "a long password");
    await user.click(screen.getByTestId("auth-submit"));
    await liveAndLoaded();
    expect(api.sent("POST", "/auth/register")[0]?.body).toEqual({
      email: "ada@example.com",
      password: "a long password",
      display_name: "Ada",
      refresh_via: "cookie",
    });

    await user.click(screen.getByTestId("sign-out"));
    const heading = await screen.findByRole("heading", { name: "Sign in" });
    expect(heading).toBeInTheDocument();
    expect(screen.queryByLabelText(/display name/i)).not.toBeInTheDocument();
    expect(screen.getByTestId("auth-email")).toHaveValue("");
    expect(screen.getByTestId("auth-password")).toHaveValue("");
    expect(screen.getByTestId("auth-submit")).toHaveTextContent("Sign in");
    expect(localStorage.getItem("todo-cloud.token")).toBeNull();
  });

  it("says a wrong password in words and keeps the email", async () => {
    const { user, api } = signedOut();
    api.fail("POST /auth/login", { status: 401, body: { detail: "wrong email or password", code: "unauthorized" } });
    await user.type(screen.getByTestId("auth-email"), "ada@example.com");
    await user.type(screen.getByTestId("auth-password"), "nope");
    await user.click(screen.getByTestId("auth-submit"));
    expect(await screen.findByTestId("auth-error")).toHaveTextContent("Wrong email or password.");
    expect(screen.getByTestId("auth-email")).toHaveValue("ada@example.com");
  });

  it("puts the server's field errors beside their fields, in words", async () => {
    const { user, api } = signedOut();
    api.fail("POST /auth/register", { status: 409, body: { detail: "an account with this email already exists" } });
    await user.click(screen.getByTestId("auth-toggle"));
    await user.type(screen.getByTestId("auth-email"), "ada@example.com");
    await user.type(screen.getByTestId("auth-password"), "a long password");
    await user.click(screen.getByTestId("auth-submit"));
    const email = screen.getByTestId("auth-email");
    await waitFor(() => expect(email).toHaveAttribute("aria-invalid", "true"));
    expect(email).toHaveAccessibleDescription("An account with this email already exists. Sign in instead?");
    expect(email).toHaveFocus();
  });

  it("checks the form before sending", async () => {
    const { user, api } = signedOut();
    await user.click(screen.getByTestId("auth-toggle"));
    await user.type(screen.getByTestId("auth-email"), "not an email");
    await user.type(screen.getByTestId("auth-password"), "short");
    await user.click(screen.getByTestId("auth-submit"));
    const form = screen.getByRole("form");
    expect(within(form).getByText("Enter a valid email address, like name@example.com.")).toBeInTheDocument();
    expect(within(form).getByText("Use at least 8 characters.")).toBeInTheDocument();
    expect(api.sent("POST", "/auth/register")).toHaveLength(0);
  });
});
