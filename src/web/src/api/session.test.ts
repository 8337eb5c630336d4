// The session with short access tokens: a refused token is renewed from the refresh
// cookie once (one refresh for many refused requests), a cookie another tab just rotated
// is tried again, and only a refused refresh ends the session. fetch() is faked here; the
// browser suite runs the same flow against the real server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Token } from "./types";

type Answer = { status: number; body?: unknown };

function token(access: string): Token {
  return {
    access_token: access,
    token_type: "bearer",
    expires_in: 900,
    refresh_expires_in: 30 * 24 * 3600,
    user: { id: "u1", email: "a@example.com", display_name: "A", created_at: "2030-01-01T00:00:00Z" },
  };
}

function fakeFetch(route: (url: string, init: Request) => Answer) {
  const calls: { url: string; authorization: string | null }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    // The app calls same-origin paths; a bare Request needs a base to resolve them.
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://app"), init);
    const url = new URL(request.url, "http://app").pathname;
    calls.push({ url, authorization: request.headers.get("Authorization") });
    const answer = route(url, request);
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

async function freshSession() {
  vi.resetModules();
  const session = await import("./session");
  session.startSession(token("old"));
  return session;
}

describe("session", () => {
  beforeEach(() => {
    localStorage.clear();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("renews a refused access token once and repeats the request", async () => {
    const session = await freshSession();
    const calls = fakeFetch((url, request) => {
      if (url === "/api/v1/auth/refresh") return { status: 200, body: token("new") };
      const ok = request.headers.get("Authorization") === "Bearer new";
      return ok ? { status: 200, body: { ok: true } } : { status: 401, body: { code: "unauthorized" } };
    });
    const answers = await Promise.all(
      [1, 2, 3].map(() => session.authorizedFetch(new Request("http://app/api/v1/tasks"))),
    );
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(calls.filter((c) => c.url === "/api/v1/auth/refresh")).toHaveLength(1);
    expect(session.currentSession()?.token).toBe("new");
    expect(localStorage.getItem("todo-cloud.token")).toBe("new");
  });

  it("tries once more when another tab rotated the cookie first", async () => {
    const session = await freshSession();
    let refreshes = 0;
    fakeFetch((url, request) => {
      if (url === "/api/v1/auth/refresh") {
        refreshes += 1;
        return refreshes === 1
          ? { status: 401, body: { code: "refresh_token_rotated" } }
          : { status: 200, body: token("newer") };
      }
      const ok = request.headers.get("Authorization") === "Bearer newer";
      return { status: ok ? 200 : 401, body: {} };
    });
    const answer = await session.authorizedFetch(new Request("http://app/api/v1/tasks"));
    expect(answer.status).toBe(200);
    expect(refreshes).toBe(2);
  });

  it("ends the session as expired when the refresh is refused", async () => {
    const session = await freshSession();
    fakeFetch(() => ({ status: 401, body: { code: "refresh_token_revoked" } }));
    const reasons: (string | null)[] = [];
    session.subscribe((_, reason) => reasons.push(reason));
    const answer = await session.authorizedFetch(new Request("http://app/api/v1/tasks"));
    expect(answer.status).toBe(401);
    expect(session.currentSession()).toBeNull();
    expect(reasons).toEqual(["expired"]);
  });

  it("signs out on the server, then here", async () => {
    const session = await freshSession();
    const calls = fakeFetch(() => ({ status: 204 }));
    await session.signOut();
    expect(calls).toEqual([{ url: "/api/v1/auth/logout", authorization: "Bearer old" }]);
    expect(session.currentSession()).toBeNull();
  });
});
