// The "Repeat" part of the task form: builds and reads an API RecurrenceRule.

import { byId } from "./dom.js";
import { endOfLocalDayIso, isoDatePart } from "./format.js";

export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const WORKWEEK = WEEKDAYS.slice(0, 5);
const UNITS = { daily: "day", weekly: "week", monthly: "month", yearly: "year" };

export class RecurrenceFields {
  constructor() {
    this.frequency = byId("rec-frequency");
    this.interval = byId("rec-interval");
    this.unit = byId("rec-unit");
    this.details = byId("rec-details");
    this.intervalField = byId("rec-interval-field");
    this.weekly = byId("rec-weekly");
    this.monthly = byId("rec-monthly");
    this.monthDay = byId("rec-month-day");
    this.nthOrdinal = byId("rec-nth-ordinal");
    this.nthWeekday = byId("rec-nth-weekday");
    this.count = byId("rec-count");
    this.until = byId("rec-until");
    this.form = this.frequency.form;

    this.frequency.addEventListener("change", () => this.#sync());
    this.interval.addEventListener("input", () => this.#syncUnit());
    byId("rec-workweek").addEventListener("click", () => {
      for (const box of this.#weekdayBoxes()) box.checked = WORKWEEK.includes(box.value);
    });
    // Typing into a choice's own input selects that choice.
    this.#selectOnFocus(this.count, "rec-end", "count");
    this.#selectOnFocus(this.until, "rec-end", "until");
    this.#selectOnFocus(this.monthDay, "rec-monthly-mode", "day");
    this.#selectOnFocus(this.nthOrdinal, "rec-monthly-mode", "nth");
    this.#selectOnFocus(this.nthWeekday, "rec-monthly-mode", "nth");
  }

  #selectOnFocus(input, radioName, value) {
    input.addEventListener("focus", () => this.#setRadio(radioName, value));
  }

  #radio(name) {
    return this.form.elements.namedItem(name);
  }

  #setRadio(name, value) {
    this.#radio(name).value = value;
  }

  #weekdayBoxes() {
    return [...this.weekly.querySelectorAll('input[type="checkbox"]')];
  }

  #syncUnit() {
    const unit = UNITS[this.frequency.value] ?? "day";
    this.unit.textContent = Number(this.interval.value) === 1 ? unit : `${unit}s`;
  }

  #sync() {
    const freq = this.frequency.value;
    this.details.hidden = !freq;
    this.intervalField.hidden = !freq;
    this.weekly.hidden = freq !== "weekly";
    this.monthly.hidden = freq !== "monthly";
    this.#syncUnit();
  }

  /** Fill from a task's rule (or clear with null). */
  fill(rule) {
    this.frequency.value = rule?.frequency ?? "";
    this.interval.value = String(rule?.interval ?? 1);
    const days = new Set(rule?.weekdays ?? []);
    for (const box of this.#weekdayBoxes()) box.checked = days.has(box.value);
    this.#setRadio("rec-monthly-mode", rule?.nth_weekday ? "nth" : "day");
    this.monthDay.value = rule?.month_day != null ? String(rule.month_day) : "";
    this.nthOrdinal.value = String(rule?.nth_weekday?.ordinal ?? 1);
    this.nthWeekday.value = rule?.nth_weekday?.weekday ?? "MO";
    this.#setRadio("rec-end", rule?.count != null ? "count" : rule?.until ? "until" : "never");
    this.count.value = String(rule?.count ?? 10);
    this.until.value = isoDatePart(rule?.until);
    this.#setRadio("rec-basis", rule?.basis ?? "due");
    this.#sync();
  }

  /** The rule the controls describe, or null for "does not repeat". */
  read() {
    const frequency = this.frequency.value;
    if (!frequency) return null;
    const rule = {
      frequency,
      interval: intOr(this.interval.value, 1),
      basis: this.#radio("rec-basis").value || "due",
    };
    if (frequency === "weekly") {
      const days = this.#weekdayBoxes().filter((b) => b.checked).map((b) => b.value);
      if (days.length) rule.weekdays = days;
    }
    if (frequency === "monthly") {
      if (this.#radio("rec-monthly-mode").value === "nth") {
        rule.nth_weekday = { ordinal: intOr(this.nthOrdinal.value, 1), weekday: this.nthWeekday.value };
      } else if (this.monthDay.value) {
        rule.month_day = intOr(this.monthDay.value, 1);
      }
    }
    const end = this.#radio("rec-end").value;
    if (end === "count") rule.count = intOr(this.count.value, 1);
    if (end === "until" && this.until.value) rule.until = endOfLocalDayIso(this.until.value);
    return rule;
  }

  /** Where a server error about recurrence.<path> should be shown. */
  fieldFor(path) {
    const key = path[0];
    if (key === "interval") return this.interval;
    if (key === "count") return this.count;
    if (key === "until") return this.until;
    if (key === "month_day") return this.monthDay;
    return this.frequency;
  }
}

function intOr(value, fallback) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : fallback;
}
