// The "Reminders" rows of the task form: at a date-time, or N minutes before the due time.

import { byId, h, icon, nextId } from "./dom.js";
import { formatMinutes, localInputToIso, toLocalInput } from "./format.js";

const MAX_REMINDERS = 10;

export class ReminderList {
  constructor() {
    this.list = byId("reminder-list");
    this.addBtn = byId("reminder-add");
    this.addBtn.addEventListener("click", () => {
      const row = this.add({ kind: "before_due", minutes_before: 15 });
      row.querySelector('[data-testid="reminder-minutes"]').focus();
    });
  }

  get rows() {
    return [...this.list.children];
  }

  fill(reminders) {
    this.list.replaceChildren();
    for (const r of reminders ?? []) this.add(r);
    this.#sync();
  }

  add(reminder) {
    const id = nextId("rem");
    const kind = h(
      "select",
      { id: `${id}-kind`, class: "rem-kind", dataset: { testid: "reminder-kind" } },
      h("option", { value: "before_due" }, "Before due"),
      h("option", { value: "absolute" }, "At a time"),
    );
    const minutes = h("input", {
      id: `${id}-minutes`,
      type: "number",
      min: "0",
      max: String(60 * 24 * 366),
      step: "1",
      inputmode: "numeric",
      class: "rem-minutes",
      dataset: { testid: "reminder-minutes" },
      value: String(reminder.minutes_before ?? 15),
    });
    const minutesHint = h("span", { class: "hint rem-human", "aria-live": "off" });
    const at = h("input", {
      id: `${id}-at`,
      type: "datetime-local",
      class: "rem-at",
      dataset: { testid: "reminder-at" },
      value: toLocalInput(reminder.at),
    });
    const error = h("p", { class: "field-error", id: `${id}-error` });
    const row = h(
      "li",
      { class: "reminder-row" },
      h("label", { class: "sr-only", for: kind.id }, "Reminder type"),
      kind,
      h(
        "span",
        { class: "rem-before" },
        h("label", { class: "sr-only", for: minutes.id }, "Minutes before due"),
        minutes,
        h("span", { "aria-hidden": "true" }, "min before due"),
        minutesHint,
      ),
      h("span", { class: "rem-abs" }, h("label", { class: "sr-only", for: at.id }, "Remind at"), at),
      h(
        "button",
        {
          type: "button",
          class: "icon-btn",
          "aria-label": "Remove reminder",
          dataset: { testid: "reminder-remove" },
          onclick: () => {
            const next = row.nextElementSibling ?? row.previousElementSibling;
            row.remove();
            this.#sync();
            (next?.querySelector("select") ?? this.addBtn).focus();
          },
        },
        icon("x"),
      ),
      error,
    );
    for (const input of [minutes, at]) input.setAttribute("aria-describedby", error.id);
    const syncKind = () => {
      row.dataset.kind = kind.value;
      row.querySelector(".rem-before").hidden = kind.value !== "before_due";
      row.querySelector(".rem-abs").hidden = kind.value !== "absolute";
    };
    const syncHint = () => {
      const n = Number(minutes.value);
      minutesHint.textContent = n >= 60 ? `(${formatMinutes(n)})` : "";
    };
    kind.value = reminder.kind === "absolute" ? "absolute" : "before_due";
    kind.addEventListener("change", () => {
      syncKind();
      (kind.value === "absolute" ? at : minutes).focus();
    });
    minutes.addEventListener("input", syncHint);
    syncKind();
    syncHint();
    this.list.append(row);
    this.#sync();
    return row;
  }

  #sync() {
    this.addBtn.disabled = this.list.children.length >= MAX_REMINDERS;
  }

  /** The reminders as the API takes them, one per row (indices match server errors). */
  read() {
    return this.rows.map((row) => {
      if (row.dataset.kind === "absolute") {
        return { kind: "absolute", at: localInputToIso(row.querySelector(".rem-at").value) };
      }
      const n = Number.parseInt(row.querySelector(".rem-minutes").value, 10);
      return { kind: "before_due", minutes_before: Number.isFinite(n) ? n : null };
    });
  }

  /** Client-side checks; returns [{index, message}] for rows that cannot be sent. */
  problems({ hasDue }) {
    return this.read().flatMap((r, index) => {
      if (r.kind === "absolute" && !r.at) return [{ index, message: "Choose the date and time to be reminded." }];
      if (r.kind === "before_due") {
        if (r.minutes_before == null || r.minutes_before < 0) {
          return [{ index, message: "Enter how many minutes before the due time (0 or more)." }];
        }
        if (!hasDue) return [{ index, message: "A reminder before due needs a due date: set one above." }];
      }
      return [];
    });
  }

  /** Server error for reminders[index]: the row's own message slot and input. */
  rowTarget(index) {
    const row = this.rows[index];
    if (!row) return null;
    const input = row.querySelector(row.dataset.kind === "absolute" ? ".rem-at" : ".rem-minutes");
    return { input, error: row.querySelector(".field-error") };
  }
}
