// Rendering the whole app against the fake API, signed in or out.
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import { App } from "../App";
import { currentSession, startSession } from "../api/session";
import { FakeApi } from "./fakeApi";

export function signedIn(api: FakeApi = new FakeApi()) {
  api.install();
  startSession({
    access_token: "token-1",
    token_type: "bearer",
    expires_in: 900,
    refresh_expires_in: 30 * 24 * 3600,
    user: { id: "user-1", email: "ada@example.com", display_name: "Ada", created_at: "2030-01-01T00:00:00Z" },
  });
  const user = userEvent.setup();
  const view = render(<App initialSession={currentSession()} />);
  return { api, user, view };
}

export function signedOut(api: FakeApi = new FakeApi()) {
  api.install();
  const user = userEvent.setup();
  const view = render(<App initialSession={null} />);
  return { api, user, view };
}

export async function liveAndLoaded(): Promise<void> {
  await waitFor(() => expect(screen.getByTestId("live-status")).toHaveTextContent("live"));
  await waitFor(() => expect(screen.getByTestId("task-list")).not.toHaveAttribute("aria-busy"));
}

export function row(title: string): HTMLElement {
  const found = screen.getAllByTestId("task-row").find((r) => r.textContent?.includes(title));
  if (!found) throw new Error(`no row for ${title}`);
  return found;
}
