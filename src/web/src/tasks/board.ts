// The task list: filters, paging, live refreshes, and the rows hidden while a delete can
// still be undone.
import { api } from "../api/client";
import type { ApiError } from "../api/errors";
import type { Priority, Task, TaskQuery, TaskSort } from "../api/types";
import { Store } from "../store";

export const PAGE_SIZE = 25;
const MAX_LIMIT = 200; // the API's cap on `limit`

export interface Filters {
  q: string;
  status: "" | "open" | "completed";
  priority: "" | Priority;
  tag: string;
  overdue: boolean;
  sort: TaskSort;
}

/** Open tasks first: a completion (and every finished occurrence of a series) leaves the list. */
export const DEFAULT_FILTERS: Filters = {
  q: "",
  status: "open",
  priority: "",
  tag: "",
  overdue: false,
  sort: "due",
};

export const SORTS: { value: TaskSort; label: string }[] = [
  { value: "due", label: "Due: soonest first" },
  { value: "-due", label: "Due: latest first" },
  // The API's "priority" is most urgent first.
  { value: "priority", label: "Priority: highest first" },
  { value: "-priority", label: "Priority: lowest first" },
  { value: "-created", label: "Newest first" },
  { value: "created", label: "Oldest first" },
  { value: "title", label: "Title A–Z" },
  { value: "-title", label: "Title Z–A" },
];

export type LoadState = "loading" | "ready" | "error";

export interface BoardState {
  filters: Filters;
  tasks: Task[];
  count: number;
  load: LoadState;
  error: string | null;
  hidden: ReadonlySet<string>;
  knownTags: readonly string[];
  /** The latest change made elsewhere (a live refresh): which task, and a counter. */
  lastChange: { taskId: string | null; seq: number };
}

export function tagsOf(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim().replace(/^#/, "").toLowerCase())
    .filter(Boolean);
}

export function hasFilters(filters: Filters): boolean {
  return Boolean(filters.q.trim() || filters.priority || tagsOf(filters.tag).length || filters.overdue)
    || filters.status !== DEFAULT_FILTERS.status;
}

export function queryOf(filters: Filters, limit: number, offset: number): TaskQuery {
  const query: TaskQuery = { sort: filters.sort, limit, offset };
  if (filters.q.trim()) query.q = filters.q.trim();
  if (filters.status) query.status = filters.status;
  if (filters.priority) query.priority = [filters.priority];
  const tags = tagsOf(filters.tag);
  if (tags.length) query.tag = tags;
  if (filters.overdue) query.overdue = true;
  return query;
}

/** Whether `task` belongs in a list with these filters (for changes made here). */
export function matches(task: Task, filters: Filters): boolean {
  if (filters.status && task.status !== filters.status) return false;
  if (filters.priority && task.priority !== filters.priority) return false;
  if (filters.overdue && !task.overdue) return false;
  return tagsOf(filters.tag).every((t) => task.tags.includes(t));
}

const RETRY_MAX_MS = 30_000;

export class TaskBoard extends Store<BoardState> {
  private controller: AbortController | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;

  constructor() {
    super({
      filters: DEFAULT_FILTERS,
      tasks: [],
      count: 0,
      load: "loading",
      error: null,
      hidden: new Set(),
      knownTags: [],
      lastChange: { taskId: null, seq: 0 },
    });
  }

  visible(): Task[] {
    return this.state.tasks.filter((t) => !this.state.hidden.has(t.id));
  }

  setFilters(patch: Partial<Filters>): Promise<void> {
    this.set({ filters: { ...this.state.filters, ...patch } });
    return this.reload();
  }

  /**
   * Load the first page. With `keep` (a live refresh) load as many rows as are shown now,
   * and room for new ones when everything was shown.
   */
  async reload({ keep = false }: { keep?: boolean } = {}): Promise<void> {
    const { tasks, count } = this.state;
    const shown = tasks.length + (tasks.length >= count ? PAGE_SIZE : 0);
    const limit = keep ? Math.min(MAX_LIMIT, Math.max(PAGE_SIZE, shown)) : PAGE_SIZE;
    const page = await this.fetch(0, limit, !keep);
    if (page) this.accept(page.data, page.count);
  }

  async loadMore(): Promise<Task | null> {
    const page = await this.fetch(this.state.tasks.length, PAGE_SIZE, false);
    if (!page) return null;
    const seen = new Set(this.state.tasks.map((t) => t.id));
    this.accept([...this.state.tasks, ...page.data.filter((t) => !seen.has(t.id))], page.count);
    return page.data[0] ?? null;
  }

  /** A task changed elsewhere: note it (an open editor checks) and refresh soon. */
  changedElsewhere(taskId: string | null): void {
    this.set({ lastChange: { taskId, seq: this.state.lastChange.seq + 1 } });
    this.scheduleRefresh();
  }

  /** Coalesce bursts of live changes into one reload. */
  scheduleRefresh(delayMs = 150): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.reload({ keep: true }), delayMs);
  }

  private accept(tasks: Task[], count: number): void {
    this.failures = 0;
    const known = new Set(this.state.knownTags);
    for (const t of tasks) for (const tag of t.tags) known.add(tag);
    this.set({ tasks, count, load: "ready", error: null, knownTags: [...known].sort() });
  }

  /** One request at a time: a newer one aborts the older. */
  private async fetch(offset: number, limit: number, showLoading: boolean) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    if (showLoading && this.state.load !== "ready") this.set({ load: "loading" });
    try {
      return await api.listTasks(queryOf(this.state.filters, limit, offset), controller.signal);
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") return null;
      if (this.controller === controller) {
        this.set({ load: "error", error: (err as ApiError).message });
        // Keep trying by itself (1 s, 2 s, 4 s ... 30 s): an outage ends without a reload.
        this.failures += 1;
        this.scheduleRefresh(Math.min(RETRY_MAX_MS, 1000 * 2 ** (this.failures - 1)));
      }
      return null;
    }
  }

  /** A task changed here: keep it in place, or drop it when it no longer matches. */
  apply(task: Task): void {
    const inList = this.state.tasks.some((t) => t.id === task.id);
    if (!inList) return;
    if (matches(task, this.state.filters)) {
      this.set({ tasks: this.state.tasks.map((t) => (t.id === task.id ? task : t)) });
    } else {
      this.set({
        tasks: this.state.tasks.filter((t) => t.id !== task.id),
        count: Math.max(0, this.state.count - 1),
      });
    }
  }

  hide(id: string): void {
    this.set({ hidden: new Set([...this.state.hidden, id]) });
  }

  unhide(id: string): void {
    const hidden = new Set(this.state.hidden);
    hidden.delete(id);
    this.set({ hidden });
  }

  /** A delete went through. */
  drop(id: string): void {
    const hidden = new Set(this.state.hidden);
    hidden.delete(id);
    const had = this.state.tasks.some((t) => t.id === id);
    this.set({
      hidden,
      tasks: this.state.tasks.filter((t) => t.id !== id),
      count: had ? Math.max(0, this.state.count - 1) : this.state.count,
    });
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.controller?.abort();
  }
}
