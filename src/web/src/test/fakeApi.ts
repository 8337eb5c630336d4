// A stand-in for the backend in component tests: an in-memory implementation of the
// endpoints the app calls, answering as the API does (status codes, ETag checks, error
// bodies). The real backend is exercised by the browser tests (tests/e2e).
import { vi } from "vitest";

import type { Notification, Task, TaskCreate, User } from "../api/types";

type Json = Record<string, unknown>;

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Json | null;
  headers: Headers;
}

export interface Failure {
  status: number;
  body: unknown;
}

let counter = 0;
const nextId = (prefix: string): string => `${prefix}-${(counter += 1)}`;

export function makeTask(patch: Partial<Task> = {}): Task {
  const id = patch.id ?? nextId("task");
  const now = new Date().toISOString();
  return {
    id,
    title: "A task",
    notes: "",
    status: "open",
    priority: "medium",
    tags: [],
    due_at: null,
    time_zone: "Europe/Berlin",
    reminders: [],
    snoozed_until: null,
    next_reminder_at: null,
    recurrence: null,
    recurrence_text: null,
    rrule: null,
    series_id: id,
    occurrence_number: 1,
    completed_at: null,
    created_at: now,
    updated_at: now,
    version: 1,
    overdue: false,
    ...patch,
  };
}

export function makeNotification(patch: Partial<Notification> = {}): Notification {
  const now = new Date().toISOString();
  return {
    id: nextId("note"),
    task_id: "task-x",
    kind: "reminder",
    title: "A reminder",
    fire_at: now,
    created_at: now,
    read_at: null,
    task_status: "open",
    ...patch,
  };
}

const USER: User = { id: "user-1", email: "ada@example.com", display_name: "Ada", created_at: "2030-01-01T00:00:00Z" };

export class FakeApi {
  tasks: Task[] = [];
  notifications: Notification[] = [];
  requests: Recorded[] = [];
  private failures = new Map<string, Failure[]>();
  private streams: ReadableStreamDefaultController<Uint8Array>[] = [];
  private readonly encoder = new TextEncoder();

  /** The next `times` answers to `METHOD /path` (path after /api/v1) are this failure. */
  fail(route: string, failure: Failure, times = 1): void {
    this.failures.set(route, [...(this.failures.get(route) ?? []), ...Array<Failure>(times).fill(failure)]);
  }

  clearFailures(): void {
    this.failures.clear();
  }

  install(): this {
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => this.handle(input, init));
    return this;
  }

  sent(method: string, path: string): Recorded[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  /** Push a server-sent event to every open stream. */
  push(event: string, data: unknown): void {
    const frame = this.encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    for (const stream of this.streams) stream.enqueue(frame);
  }

  refresh(kind: "task" | "notification", taskId: string | null = null): void {
    this.push("refresh", { data: { owner_id: USER.id, kind, task_id: taskId, reason: "test" } });
  }

  private json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    if (status === 204) return new Response(null, { status });
    return new Response(JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json", ...headers },
    });
  }

  private async handle(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request =
      input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
    const url = new URL(request.url, "http://localhost");
    const path = url.pathname.replace(/^\/api\/v1/, "");
    const text = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const body = text ? (JSON.parse(text) as Json) : null;
    this.requests.push({ method: request.method, path, query: url.searchParams, body, headers: request.headers });
    const queued = this.failures.get(`${request.method} ${path}`);
    const failure = queued?.shift();
    if (failure) return this.json(failure.status, failure.body);
    return this.route(request, path, url.searchParams, body);
  }

  private route(request: Request, path: string, query: URLSearchParams, body: Json | null): Response {
    const method = request.method;
    if (path === "/events/stream") {
      const stream = new ReadableStream<Uint8Array>({
        start: (controller) => {
          this.streams.push(controller);
          controller.enqueue(this.encoder.encode("event: ready\ndata: {}\n\n"));
        },
      });
      return new Response(stream, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }
    if (method === "POST" && (path === "/auth/register" || path === "/auth/login")) {
      const user = { ...USER, email: String(body?.["email"]), display_name: String(body?.["display_name"] ?? "") };
      return this.json(path === "/auth/register" ? 201 : 200, {
        access_token: "token-1",
        token_type: "bearer",
        expires_in: 3600,
        user,
      });
    }
    if (path === "/users/me") return this.json(200, USER);
    if (path === "/notifications" && method === "GET") {
      return this.json(200, { data: this.notifications, unread: this.notifications.filter((n) => !n.read_at).length });
    }
    const read = /^\/notifications\/([^/]+)\/read$/.exec(path);
    if (read) {
      const n = this.notifications.find((x) => x.id === read[1]);
      if (!n) return this.json(404, { detail: "notification not found", code: "not_found" });
      n.read_at = new Date().toISOString();
      return this.json(200, n);
    }
    if (path === "/notifications/read-all") {
      for (const n of this.notifications) n.read_at ??= new Date().toISOString();
      return this.json(200, { marked: 1 });
    }
    if (path === "/tasks" && method === "GET") {
      const status = query.get("status");
      const data = this.tasks.filter((t) => !status || t.status === status);
      const limit = Number(query.get("limit") ?? 50);
      const offset = Number(query.get("offset") ?? 0);
      return this.json(200, { data: data.slice(offset, offset + limit), count: data.length, limit, offset });
    }
    if (path === "/tasks" && method === "POST") {
      const created = makeTask({ ...(body as unknown as TaskCreate), recurrence_text: null } as Partial<Task>);
      this.tasks.push(created);
      return this.json(201, created, { ETag: `"${created.version}"` });
    }
    const one = /^\/tasks\/([^/]+)(?:\/(complete|reopen|snooze))?$/.exec(path);
    if (one) {
      const task = this.tasks.find((t) => t.id === one[1]);
      if (!task) return this.json(404, { detail: `task ${one[1]} not found`, code: "not_found" });
      const ifMatch = request.headers.get("If-Match");
      if (ifMatch && ifMatch !== `"${task.version}"`) {
        return this.json(412, {
          detail: `the task changed meanwhile: it is at version ${task.version}, not ${ifMatch}`,
          code: "version_conflict",
        });
      }
      const action = one[2];
      if (method === "GET") return this.json(200, task);
      if (method === "DELETE") {
        this.tasks = this.tasks.filter((t) => t !== task);
        return this.json(204, null);
      }
      if (method === "PATCH") Object.assign(task, body);
      if (action === "complete") Object.assign(task, { status: "completed", completed_at: new Date().toISOString() });
      if (action === "reopen") Object.assign(task, { status: "open", completed_at: null });
      if (action === "snooze") task.snoozed_until = new Date(Date.now() + 600_000).toISOString();
      task.version += 1;
      return this.json(200, task, { ETag: `"${task.version}"` });
    }
    return this.json(404, { detail: `no route ${method} ${path}`, code: "not_found" });
  }
}
