// The signed-in session, in one module: where the credentials live, how requests carry
// them, and what a refused credential does. An access token lives minutes (kept in
// localStorage so tabs share it); the refresh token is an httpOnly cookie this code never
// sees, scoped to /api/v1/auth: a refused access token is renewed from it once, and only
// a refused refresh ends the session.
import type { Token, User } from "./types";

const TOKEN_KEY = "todo-cloud.token";
const USER_KEY = "todo-cloud.user";

export interface Session {
  token: string;
  user: User;
}

type Listener = (session: Session | null, reason: SignOutReason | null) => void;
export type SignOutReason = "signed-out" | "expired";

const listeners = new Set<Listener>();

function read(): Session | null {
  try {
    const token = localStorage.getItem(TOKEN_KEY);
    const user = JSON.parse(localStorage.getItem(USER_KEY) ?? "null") as User | null;
    return token && user ? { token, user } : null;
  } catch {
    return null;
  }
}

let current: Session | null = typeof localStorage === "undefined" ? null : read();

export function currentSession(): Session | null {
  return current;
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function publish(reason: SignOutReason | null): void {
  for (const listener of listeners) listener(current, reason);
}

export function startSession(token: Token): void {
  current = { token: token.access_token, user: token.user };
  localStorage.setItem(TOKEN_KEY, current.token);
  localStorage.setItem(USER_KEY, JSON.stringify(current.user));
  publish(null);
}

export function updateUser(user: User): void {
  if (!current) return;
  current = { ...current, user };
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  publish(null);
}

export function endSession(reason: SignOutReason): void {
  const had = current !== null;
  current = null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
  if (had) publish(reason);
}

// Another tab signed in or out: follow it.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (event) => {
    if (event.key !== TOKEN_KEY && event.key !== USER_KEY) return;
    const next = read();
    if (next?.token === current?.token) return;
    current = next;
    publish(next ? null : "signed-out");
  });
}

const REFRESH_URL = "/api/v1/auth/refresh";
const LOGOUT_URL = "/api/v1/auth/logout";
let refreshing: Promise<boolean> | null = null;

/**
 * A new access token from the refresh cookie; true when the request may be sent again.
 * One refresh at a time per tab. When another tab's refresh replaced the cookie a moment
 * before, the server answers `refresh_token_rotated`: the browser already holds the newer
 * cookie, so one more try succeeds.
 */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(REFRESH_URL, {
        method: "POST",
        credentials: "same-origin",
      }).catch(() => null);
      if (response?.ok) {
        const token = (await response.json()) as Token;
        if (!current) return false;
        current = { token: token.access_token, user: token.user };
        localStorage.setItem(TOKEN_KEY, current.token);
        localStorage.setItem(USER_KEY, JSON.stringify(current.user));
        return true;
      }
      const body = (await response?.json().catch(() => null)) as { code?: string } | null;
      if (body?.code !== "refresh_token_rotated") return false;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** Sign out on the server too (revokes the refresh token, ends the access tokens), then here. */
export async function signOut(): Promise<void> {
  const headers: Record<string, string> = authorizationHeader();
  await fetch(LOGOUT_URL, { method: "POST", headers, credentials: "same-origin" }).catch(
    () => null,
  );
  endSession("signed-out");
}

/** fetch() with the session's credentials; a refused credential ends the session. */
export async function authorizedFetch(request: Request): Promise<Response> {
  const session = current;
  const send = (): Promise<Response> => {
    const attempt = request.clone();
    if (current) attempt.headers.set("Authorization", `Bearer ${current.token}`);
    return fetch(attempt);
  };
  const response = await send();
  if (response.status !== 401 || !session) return response;
  if (await refresh()) return send();
  if (current === session) endSession("expired");
  return response;
}

/** Headers for requests that cannot go through authorizedFetch (the event stream). */
export function authorizationHeader(): Record<string, string> {
  return current ? { Authorization: `Bearer ${current.token}` } : {};
}
