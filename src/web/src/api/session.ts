// The signed-in session, in one module: where the credentials live, how requests carry
// them, and what a refused credential does. Today that is a bearer token in localStorage;
// a move to short access tokens with a refresh cookie changes `refresh` and `store` here
// and nothing else.
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

/** Try to renew refused credentials; true when the request may be sent again. */
async function refresh(): Promise<boolean> {
  // Bearer tokens cannot be renewed: a refused one means signing in again.
  return false;
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
