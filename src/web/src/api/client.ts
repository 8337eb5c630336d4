// The REST API, typed end to end by the generated OpenAPI types: a path, parameter or
// body that the backend no longer has fails `tsc` here.
import createClient from "openapi-fetch";

import { ApiError, networkError, type Subject } from "./errors";
import { authorizedFetch } from "./session";
import type {
  Notification,
  NotificationPage,
  Task,
  TaskCreate,
  TaskPage,
  TaskQuery,
  TaskUpdate,
  Token,
  User,
  paths,
} from "./types";

// Absolute URLs: fetch() outside a page (tests) has no base to resolve "/api" against.
const origin = typeof location === "undefined" ? "" : location.origin;
const client = createClient<paths>({ baseUrl: origin, fetch: authorizedFetch });

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's body, or an ApiError in the app's words. */
async function call<T>(subject: Subject, request: () => Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request();
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw networkError(subject);
  }
  if (!answer.response.ok) throw new ApiError(answer.response.status, answer.error, subject);
  return answer.data as T;
}

const ifMatch = (version: number): { "If-Match": string } => ({ "If-Match": `"${version}"` });
const taskPath = (id: string) => ({ path: { task_id: id } });

export const api = {
  register: (body: { email: string; password: string; display_name: string }): Promise<Token> =>
    // The refresh token comes back as an httpOnly cookie, never to this code.
    call("sign-up", () => client.POST("/api/v1/auth/register", { body: { ...body, refresh_via: "cookie" } })),
  login: (body: { email: string; password: string }): Promise<Token> =>
    call("sign-in", () => client.POST("/api/v1/auth/login", { body: { ...body, refresh_via: "cookie" } })),
  me: (): Promise<User> => call("sign-in", () => client.GET("/api/v1/users/me")),

  listTasks: (query: TaskQuery, signal?: AbortSignal): Promise<TaskPage> =>
    call("tasks", () =>
      client.GET("/api/v1/tasks", { params: { query }, ...(signal ? { signal } : {}) }),
    ),
  getTask: (id: string): Promise<Task> =>
    call("task", () => client.GET("/api/v1/tasks/{task_id}", { params: taskPath(id) })),
  createTask: (body: TaskCreate): Promise<Task> =>
    call("task", () => client.POST("/api/v1/tasks", { body })),
  updateTask: (id: string, body: TaskUpdate, version: number): Promise<Task> =>
    call("task", () =>
      client.PATCH("/api/v1/tasks/{task_id}", {
        params: { ...taskPath(id), header: ifMatch(version) },
        body,
      }),
    ),
  deleteTask: (id: string, version: number, keepalive = false): Promise<void> =>
    call("task", () =>
      client.DELETE("/api/v1/tasks/{task_id}", {
        params: { ...taskPath(id), header: ifMatch(version) },
        keepalive,
      }),
    ),
  completeTask: (id: string): Promise<Task> =>
    call("task", () => client.POST("/api/v1/tasks/{task_id}/complete", { params: taskPath(id) })),
  reopenTask: (id: string): Promise<Task> =>
    call("task", () => client.POST("/api/v1/tasks/{task_id}/reopen", { params: taskPath(id) })),
  snoozeTask: (id: string, minutes: number): Promise<Task> =>
    call("snooze", () =>
      client.POST("/api/v1/tasks/{task_id}/snooze", { params: taskPath(id), body: { minutes } }),
    ),

  listNotifications: (): Promise<NotificationPage> =>
    call("notification", () =>
      client.GET("/api/v1/notifications", { params: { query: { limit: 50 } } }),
    ),
  markNotificationRead: (id: string): Promise<Notification> =>
    call("notification", () =>
      client.POST("/api/v1/notifications/{notification_id}/read", {
        params: { path: { notification_id: id } },
      }),
    ),
  markAllNotificationsRead: (): Promise<unknown> =>
    call("notification", () => client.POST("/api/v1/notifications/read-all")),
};

export const STREAM_URL = `${origin}/api/v1/events/stream`;
