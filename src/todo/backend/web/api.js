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

/** JSON request; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function request(method, path, { body, query, headers, signal, auth = true } = {}) {
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
  if (!response.ok) {
    if (response.status === 401 && auth && session.token) unauthorizedHandler();
    throw new ApiError(response.status, data?.detail ?? response.statusText);
  }
  return data;
}

const ifMatch = (version) => (version ? { "If-Match": `"${version}"` } : undefined);
const enc = encodeURIComponent;

export const api = {
  register: (body) => request("POST", "/auth/register", { body, auth: false }),
  login: (body) => request("POST", "/auth/login", { body, auth: false }),
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
