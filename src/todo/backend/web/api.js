// The REST API of Todo Cloud (/api/v1) and the signed-in session.

const BASE = "/api/v1";
const TOKEN_KEY = "todo-cloud.token";
const USER_KEY = "todo-cloud.user";

/** An HTTP error with the API's `detail`: a message, or a list of field errors (422). */
export class ApiError extends Error {
  constructor(status, detail) {
    const fieldErrors = Array.isArray(detail) ? detail.map(toFieldError) : [];
    const message =
      typeof detail === "string"
        ? detail
        : fieldErrors.length
          ? fieldErrors.map((e) => e.message).join("; ")
          : `Request failed (HTTP ${status})`;
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fieldErrors = fieldErrors;
  }
}

/** {loc: ["body", "reminders", 0, "at"], msg} -> {field: "reminders", path: [0, "at"], message} */
function toFieldError(item) {
  const loc = Array.isArray(item?.loc) ? item.loc : [];
  const rest = loc[0] === "body" || loc[0] === "query" ? loc.slice(1) : loc;
  const message = String(item?.msg ?? "is invalid").replace(/^Value error, /, "");
  return { field: rest.length ? String(rest[0]) : "", path: rest.slice(1), message };
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  get user() {
    try {
      return JSON.parse(localStorage.getItem(USER_KEY) ?? "null");
    } catch {
      return null;
    }
  },
  save(token, user) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

let unauthorizedHandler = () => {};
/** Called when a signed-in request gets 401 (expired or revoked token). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") params.append(key, String(v));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

let refreshing = null;
/**
 * A new access token from the refresh cookie (httpOnly: this script never sees it). One
 * refresh at a time per tab; when another tab's refresh replaced the cookie a moment
 * before (`refresh_token_rotated`), try once more with the newer cookie.
 * Resolves to true when signed in again.
 */
export function refreshSession() {
  refreshing ??= (async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(`${BASE}/auth/refresh`, { method: "POST" }).catch(() => null);
      if (response?.ok) {
        const token = await response.json();
        session.save(token.access_token, token.user);
        return true;
      }
      const data = await response?.json().catch(() => null);
      if (data?.code !== "refresh_token_rotated") return false;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** JSON request; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function request(method, path, options = {}) {
  try {
    return await send(method, path, options);
  } catch (err) {
    // An access token lives minutes: renew it once, then repeat the request.
    if (err.status !== 401 || options.auth === false || !session.token) throw err;
    if (!(await refreshSession())) {
      unauthorizedHandler();
      throw err;
    }
    return send(method, path, options);
  }
}

async function send(method, path, { body, query, headers, signal, auth = true } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (auth && session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${BASE}${path}${queryString(query)}`, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText);
  return data;
}

const bearer = () => (session.token ? { Authorization: `Bearer ${session.token}` } : undefined);
const ifMatch = (version) => (version ? { "If-Match": `"${version}"` } : undefined);
const enc = encodeURIComponent;

export const api = {
  register: (body) => request("POST", "/auth/register", { body, auth: false }),
  login: (body) => request("POST", "/auth/login", { body, auth: false }),
  logout: () => request("POST", "/auth/logout", { auth: false, headers: bearer() }),
  me: () => request("GET", "/users/me"),

  listTasks: (query, signal) => request("GET", "/tasks", { query, signal }),
  getTask: (id) => request("GET", `/tasks/${enc(id)}`),
  createTask: (body) => request("POST", "/tasks", { body }),
  updateTask: (id, body, version) =>
    request("PATCH", `/tasks/${enc(id)}`, { body, headers: ifMatch(version) }),
  deleteTask: (id, version) =>
    request("DELETE", `/tasks/${enc(id)}`, { headers: ifMatch(version) }),
  completeTask: (id) => request("POST", `/tasks/${enc(id)}/complete`),
  reopenTask: (id) => request("POST", `/tasks/${enc(id)}/reopen`),
  snoozeTask: (id, minutes) => request("POST", `/tasks/${enc(id)}/snooze`, { body: { minutes } }),

  listNotifications: () => request("GET", "/notifications", { query: { limit: 50 } }),
  markNotificationRead: (id) => request("POST", `/notifications/${enc(id)}/read`),
  markAllNotificationsRead: () => request("POST", "/notifications/read-all"),
};

export const STREAM_URL = `${BASE}/events/stream`;
