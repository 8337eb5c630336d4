import { describe, expect, it } from "vitest";

import { render } from "./prerender";

describe("the page's first paint", () => {
  it("is the sign-in form, rendered without the app's script", () => {
    const html = render();
    expect(html).toContain("<h1");
    expect(html).toContain("Sign in");
    expect(html).toMatch(/<input[^>]+data-testid="auth-email"/);
    expect(html).toMatch(/<input[^>]+type="password"/);
    expect(html).not.toContain("<script");
    expect(html).not.toMatch(/style="/);
  });
});
