// The task list: filters, search, sorting, paging, and the row actions.

import { api } from "./api.js";
import { byId, confirmDialog, debounce, h } from "./dom.js";
import { renderTaskRow, tickRow } from "./task-row.js";
import { showToast } from "./toast.js";

const PAGE_SIZE = 25;
const MAX_LIMIT = 200; // the API's cap on `limit`

export class TaskBoard {
  tasks = [];
  count = 0;
  #controller = null;
  #knownTags = new Set();

  constructor({ onEdit, onError }) {
    this.onEdit = onEdit;
    this.onError = onError;
    this.list = byId("task-list");
    this.summary = byId("list-summary");
    this.empty = byId("list-empty");
    this.emptyText = byId("list-empty-text");
    this.clearBtn = byId("filters-clear");
    this.moreBtn = byId("load-more");
    this.filters = {
      q: byId("search"),
      status: byId("filter-status"),
      priority: byId("filter-priority"),
      tag: byId("filter-tag"),
      overdue: byId("filter-overdue"),
      sort: byId("sort"),
    };
    this.tagOptions = byId("tag-options");

    const reloadSoon = debounce(() => this.reload(), 300);
    this.filters.q.addEventListener("input", reloadSoon);
    this.filters.tag.addEventListener("input", reloadSoon);
    for (const key of ["status", "priority", "overdue", "sort"]) {
      this.filters[key].addEventListener("change", () => this.reload());
    }
    byId("filters").addEventListener("submit", (e) => {
      e.preventDefault();
      reloadSoon.cancel();
      this.reload();
    });
    this.clearBtn.addEventListener("click", () => this.clearFilters());
    this.moreBtn.addEventListener("click", () => this.loadMore());
    this.scheduleReload = debounce(() => this.reload({ keep: true }), 150);
    setInterval(() => this.tick(), 30_000);
  }

  #query() {
    const f = this.filters;
    const tags = f.tag.value.split(",").map((t) => t.trim().replace(/^#/, "").toLowerCase()).filter(Boolean);
    return {
      q: f.q.value.trim(),
      status: f.status.value,
      priority: f.priority.value,
      tag: tags,
      overdue: f.overdue.checked ? "true" : "",
      sort: f.sort.value,
    };
  }

  #hasFilters() {
    const q = this.#query();
    return Boolean(q.q || q.status || q.priority || q.tag.length || q.overdue);
  }

  clearFilters() {
    const f = this.filters;
    f.q.value = "";
    f.status.value = "";
    f.priority.value = "";
    f.tag.value = "";
    f.overdue.checked = false;
    this.reload();
    f.q.focus();
  }

  filterByTag(tag) {
    this.filters.tag.value = tag;
    this.reload();
  }

  /**
   * Load the first page. With `keep` (a live refresh) load as many rows as are shown now,
   * and when everything was shown, room for new tasks too.
   */
  async reload({ keep = false } = {}) {
    const shown = this.tasks.length + (this.tasks.length >= this.count ? PAGE_SIZE : 0);
    const limit = keep ? Math.min(MAX_LIMIT, Math.max(PAGE_SIZE, shown)) : PAGE_SIZE;
    const page = await this.#fetch(0, limit);
    if (!page) return;
    this.tasks = page.data;
    this.count = page.count;
    this.render();
  }

  async loadMore() {
    const page = await this.#fetch(this.tasks.length, PAGE_SIZE);
    if (!page) return;
    const seen = new Set(this.tasks.map((t) => t.id));
    this.tasks = [...this.tasks, ...page.data.filter((t) => !seen.has(t.id))];
    this.count = page.count;
    this.render();
    // Keep keyboard users where the new rows start.
    const first = page.data[0] && this.list.querySelector(`[data-task-id="${CSS.escape(page.data[0].id)}"] .task-check`);
    if (first && (document.activeElement === this.moreBtn || this.moreBtn.hidden)) first.focus();
  }

  /** One request at a time: a newer request aborts the older one. */
  async #fetch(offset, limit) {
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.list.setAttribute("aria-busy", "true");
    try {
      return await api.listTasks({ ...this.#query(), limit, offset }, controller.signal);
    } catch (err) {
      if (err.name !== "AbortError") this.onError(err);
      return null;
    } finally {
      if (this.#controller === controller) this.list.removeAttribute("aria-busy");
    }
  }

  reset() {
    this.#controller?.abort();
    this.tasks = [];
    this.count = 0;
    this.#knownTags.clear();
    this.list.replaceChildren();
    this.tagOptions.replaceChildren();
    this.summary.textContent = "";
  }

  render() {
    const focus = this.#focusedRow();
    const actions = {
      onToggle: (task, checkbox) => this.toggle(task, checkbox),
      onEdit: (task, button) => this.onEdit(task, button),
      onDelete: (task, button) => this.remove(task, button),
      onTag: (tag) => this.filterByTag(tag),
    };
    this.list.replaceChildren(...this.tasks.map((t) => renderTaskRow(t, actions)));
    this.#restoreFocus(focus);

    const filtered = this.#hasFilters();
    this.empty.hidden = this.tasks.length > 0;
    this.emptyText.textContent = filtered
      ? "No tasks match these filters."
      : "No tasks yet. Create your first one with “New task”.";
    this.clearBtn.hidden = !filtered;
    const more = this.count - this.tasks.length;
    this.moreBtn.hidden = more <= 0;
    this.moreBtn.textContent = `Load more (${more} more)`;
    this.summary.textContent = this.count
      ? `${this.tasks.length} of ${this.count} ${this.count === 1 ? "task" : "tasks"}`
      : "";

    for (const t of this.tasks) for (const tag of t.tags) this.#knownTags.add(tag);
    this.tagOptions.replaceChildren(...[...this.#knownTags].sort().map((tag) => h("option", { value: tag })));
  }

  #focusedRow() {
    const el = document.activeElement;
    const row = el?.closest?.('[data-testid="task-row"]');
    if (!row || !this.list.contains(row)) return null;
    return { id: row.dataset.taskId, role: el.dataset.role, index: [...this.list.children].indexOf(row) };
  }

  #restoreFocus(focus) {
    if (!focus) return;
    const row =
      this.list.querySelector(`[data-task-id="${CSS.escape(focus.id)}"]`) ??
      this.list.children[Math.min(focus.index, this.list.children.length - 1)];
    const target = row?.querySelector(`[data-role="${focus.role ?? "toggle"}"]`) ?? row?.querySelector("input, button");
    (target ?? byId("tasks-heading")).focus();
  }

  tick() {
    const now = Date.now();
    const tasksById = new Map(this.tasks.map((t) => [t.id, t]));
    for (const row of this.list.children) {
      const task = tasksById.get(row.dataset.taskId);
      if (task) tickRow(row, task, now);
    }
  }

  #replace(task) {
    this.tasks = this.tasks.map((t) => (t.id === task.id ? task : t));
    this.render();
  }

  async toggle(task, checkbox) {
    const completing = task.status !== "completed";
    checkbox.disabled = true;
    try {
      const updated = completing ? await api.completeTask(task.id) : await api.reopenTask(task.id);
      this.#replace(updated);
      if (completing) {
        showToast(
          task.recurrence ? `Completed “${task.title}”. The next one is on its way.` : `Completed “${task.title}”.`,
          { actions: [{ label: "Undo", onClick: () => this.#undoComplete(updated) }] },
        );
      }
    } catch (err) {
      checkbox.checked = !completing;
      this.onError(err);
    } finally {
      checkbox.disabled = false;
    }
    this.scheduleReload();
  }

  async #undoComplete(task) {
    try {
      this.#replace(await api.reopenTask(task.id));
    } catch (err) {
      this.onError(err);
    }
    this.scheduleReload();
  }

  async remove(task) {
    const ok = await confirmDialog({
      title: "Delete task?",
      text: `“${task.title}” will be deleted for good.`,
      confirmLabel: "Delete",
    });
    if (!ok) return;
    try {
      await api.deleteTask(task.id, task.version);
      this.tasks = this.tasks.filter((t) => t.id !== task.id);
      this.count = Math.max(0, this.count - 1);
      this.render();
      showToast(`Deleted “${task.title}”.`);
    } catch (err) {
      this.onError(err);
    }
    this.scheduleReload();
  }
}
