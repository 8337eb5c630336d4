// One task in the list: <li data-testid="task-row" data-task-id data-status>.

import { h, icon } from "./dom.js";
import { formatDateTime, formatFull, relative } from "./format.js";

const PRIORITY_LABEL = { low: "Low", medium: "Medium", high: "High", urgent: "Urgent" };

/** Whether the task is overdue now (the server's flag was computed when it was fetched). */
export function isOverdue(task, now = Date.now()) {
  return task.status === "open" && !!task.due_at && new Date(task.due_at).getTime() < now;
}

/** The due line's relative part: "in 5 min", "overdue · 3 h ago", "done". */
export function dueRelative(task, now = Date.now()) {
  if (!task.due_at) return "";
  const rel = relative(task.due_at, now);
  if (task.status === "completed") return rel;
  if (isOverdue(task, now)) return rel === "now" ? "overdue" : `overdue, ${rel}`;
  return rel === "now" ? "due now" : rel;
}

/**
 * Build the row. `actions`: {onToggle(task, checkbox), onEdit(task, button),
 * onDelete(task, button), onTag(tag)}.
 */
export function renderTaskRow(task, actions) {
  const done = task.status === "completed";
  const overdue = isOverdue(task);
  const checkId = `done-${task.id}`;
  const titleId = `title-${task.id}`;

  const checkbox = h("input", {
    type: "checkbox",
    id: checkId,
    class: "task-check",
    checked: done,
    dataset: { testid: "task-complete", role: "toggle" },
    "aria-label": done ? `Reopen "${task.title}"` : `Complete "${task.title}"`,
    onchange: () => actions.onToggle(task, checkbox),
  });

  const meta = [];
  if (task.due_at) {
    meta.push(
      h(
        "li",
        { class: "meta-due", title: `${formatFull(task.due_at)} (${task.time_zone})` },
        icon("calendar"),
        h("span", { class: "sr-only" }, "Due "),
        h("time", { datetime: task.due_at }, formatDateTime(task.due_at)),
        h("span", { class: "rel", dataset: { rel: "due" } }, dueRelative(task)),
      ),
    );
  }
  if (task.recurrence_text) {
    meta.push(
      h(
        "li",
        { class: "meta-rec", title: `Occurrence ${task.occurrence_number} of this series` },
        icon("repeat"),
        h("span", { class: "sr-only" }, "Repeats: "),
        task.recurrence_text,
      ),
    );
  }
  if (!done && task.next_reminder_at) {
    const snoozed = task.snoozed_until && task.snoozed_until === task.next_reminder_at;
    meta.push(
      h(
        "li",
        { class: "meta-rem", title: formatFull(task.next_reminder_at) },
        icon("bell"),
        h("span", { class: "sr-only" }, snoozed ? "Snoozed until " : "Next reminder "),
        snoozed ? h("span", { "aria-hidden": "true" }, "Snoozed · ") : null,
        h("time", { datetime: task.next_reminder_at }, formatDateTime(task.next_reminder_at)),
      ),
    );
  }

  return h(
    "li",
    {
      class: `task-row prio-${task.priority}${done ? " is-done" : ""}${overdue ? " is-overdue" : ""}`,
      dataset: { testid: "task-row", taskId: task.id, status: task.status },
    },
    h("div", { class: "task-check-wrap" }, checkbox),
    h(
      "div",
      { class: "task-body" },
      h(
        "div",
        { class: "task-line" },
        h("span", { class: "task-title", id: titleId, dataset: { testid: "task-row-title" } }, task.title),
        h("span", { class: `badge prio prio-${task.priority}` }, h("span", { class: "sr-only" }, "Priority: "), PRIORITY_LABEL[task.priority] ?? task.priority),
        h("span", { class: "badge overdue", hidden: !overdue, dataset: { rel: "overdue-badge" } }, "Overdue"),
        done ? h("span", { class: "sr-only" }, "(completed)") : null,
      ),
      task.notes ? h("p", { class: "task-notes" }, task.notes) : null,
      meta.length || task.tags.length
        ? h(
            "ul",
            { class: "task-meta", "aria-label": "Details" },
            meta,
            task.tags.length
              ? h(
                  "li",
                  { class: "meta-tags" },
                  task.tags.map((tag) =>
                    h("button", {
                      type: "button",
                      class: "tag",
                      "aria-label": `Show tasks tagged ${tag}`,
                      onclick: () => actions.onTag(tag),
                    }, `#${tag}`),
                  ),
                )
              : null,
          )
        : null,
    ),
    h(
      "div",
      { class: "task-actions" },
      h("button", {
        type: "button",
        class: "btn ghost small",
        dataset: { testid: "task-edit", role: "edit" },
        "aria-label": `Edit "${task.title}"`,
        onclick: (e) => actions.onEdit(task, e.currentTarget),
      }, icon("edit"), h("span", { class: "btn-text" }, "Edit")),
      h("button", {
        type: "button",
        class: "btn ghost small danger-text",
        dataset: { testid: "task-delete", role: "delete" },
        "aria-label": `Delete "${task.title}"`,
        onclick: (e) => actions.onDelete(task, e.currentTarget),
      }, icon("trash"), h("span", { class: "btn-text" }, "Delete")),
    ),
  );
}

/** Refresh the time-dependent bits of a rendered row (relative due text, overdue marks). */
export function tickRow(row, task, now = Date.now()) {
  const rel = row.querySelector('[data-rel="due"]');
  if (rel) rel.textContent = dueRelative(task, now);
  const overdue = isOverdue(task, now);
  row.classList.toggle("is-overdue", overdue);
  const badge = row.querySelector('[data-rel="overdue-badge"]');
  if (badge) badge.hidden = !overdue;
}
