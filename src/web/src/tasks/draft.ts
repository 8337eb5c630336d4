// The task form's state and what it sends. Wall times (the due date, reminders "at a time",
// the repeat's last day) are read in the task's own time zone, the one the form shows.
import type { FieldError } from "../api/errors";
import type {
  Frequency,
  Priority,
  RecurrenceRule,
  ReminderIn,
  Task,
  TaskCreate,
  TaskUpdate,
  Weekday,
} from "../api/types";
import { endOfDayIso, isoToDay, isoToWallTime, wallTimeToIso } from "../time";

export const MAX_REMINDERS = 10;

export interface ReminderDraft {
  key: string;
  kind: "before_due" | "absolute";
  minutes: string;
  at: string;
}

export interface RepeatDraft {
  frequency: Frequency | "";
  interval: string;
  weekdays: Weekday[];
  monthlyMode: "day" | "nth";
  monthDay: string;
  // A day a short month lacks (the 31st) falls on its last day instead of being skipped.
  lastDay: boolean;
  nthOrdinal: string;
  nthWeekday: Weekday;
  end: "never" | "count" | "until";
  count: string;
  until: string;
  basis: "due" | "completion";
  // A rule the form cannot show (set through the API: several month days, months, set
  // positions): kept as it is unless the person replaces it.
  custom: RecurrenceRule | null;
}

export interface TaskDraft {
  title: string;
  notes: string;
  priority: Priority;
  tags: string;
  due: string;
  zone: string;
  reminders: ReminderDraft[];
  repeat: RepeatDraft;
}

let nextKey = 0;
export function reminderKey(): string {
  nextKey += 1;
  return `reminder-${nextKey}`;
}

export function newReminder(): ReminderDraft {
  return { key: reminderKey(), kind: "before_due", minutes: "15", at: "" };
}

/** Whether the form's fields can show `rule` without losing a part of it. */
function formShows(rule: RecurrenceRule): boolean {
  const byDay = rule.by_day ?? [];
  const monthDays = rule.by_month_day ?? [];
  if ((rule.by_month ?? []).length || (rule.by_set_position ?? []).length) return false;
  if ((rule.week_start ?? "MO") !== "MO" || monthDays.length > 1) return false;
  if (rule.frequency === "weekly") return monthDays.length === 0 && byDay.every((d) => d.ordinal == null);
  if (rule.frequency === "monthly") {
    const nth = byDay.length === 1 && byDay[0]?.ordinal != null;
    return (byDay.length === 0 || nth) && !(nth && monthDays.length);
  }
  return byDay.length === 0 && monthDays.length === 0;
}

function repeatDraft(rule: RecurrenceRule | null | undefined, zone: string): RepeatDraft {
  const byDay = rule?.by_day ?? [];
  const nth = rule?.frequency === "monthly" ? byDay.find((d) => d.ordinal != null) : undefined;
  const monthDay = rule?.by_month_day?.[0];
  return {
    frequency: rule?.frequency ?? "",
    interval: String(rule?.interval ?? 1),
    weekdays: rule?.frequency === "weekly" ? byDay.map((d) => d.weekday) : [],
    monthlyMode: nth ? "nth" : "day",
    monthDay: monthDay != null ? String(monthDay) : "",
    lastDay: rule?.missing_day === "last_day",
    nthOrdinal: String(nth?.ordinal ?? 1),
    nthWeekday: nth?.weekday ?? "MO",
    end: rule?.count != null ? "count" : rule?.until ? "until" : "never",
    count: String(rule?.count ?? 10),
    until: isoToDay(rule?.until, zone),
    basis: rule?.basis ?? "due",
    custom: rule && !formShows(rule) ? rule : null,
  };
}

export function draftFromTask(task: Task | null, defaultZone: string): TaskDraft {
  const zone = task?.time_zone ?? defaultZone;
  return {
    title: task?.title ?? "",
    notes: task?.notes ?? "",
    priority: task?.priority ?? "medium",
    tags: (task?.tags ?? []).join(", "),
    due: isoToWallTime(task?.due_at, zone),
    zone,
    reminders: (task?.reminders ?? []).map((r) => ({
      key: reminderKey(),
      kind: r.kind,
      minutes: String(r.minutes_before ?? 15),
      at: isoToWallTime(r.at, zone),
    })),
    repeat: repeatDraft(task?.recurrence, zone),
  };
}

const int = (value: string): number | null => {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) && String(n) === value.trim() ? n : null;
};

export function ruleFromDraft(repeat: RepeatDraft, zone: string): RecurrenceRule | null {
  if (repeat.custom) return repeat.custom;
  if (!repeat.frequency) return null;
  const rule: RecurrenceRule = {
    frequency: repeat.frequency,
    interval: int(repeat.interval) ?? 0,
    basis: repeat.basis,
    week_start: "MO",
    missing_day: "skip",
  };
  if (repeat.frequency === "weekly" && repeat.weekdays.length > 0) {
    rule.by_day = repeat.weekdays.map((weekday) => ({ weekday, ordinal: null }));
  }
  if (repeat.frequency === "monthly") {
    if (repeat.monthlyMode === "nth") {
      rule.by_day = [{ ordinal: int(repeat.nthOrdinal) ?? 1, weekday: repeat.nthWeekday }];
    } else if (repeat.monthDay) {
      rule.by_month_day = [int(repeat.monthDay) ?? 1];
      if (repeat.lastDay) rule.missing_day = "last_day";
    }
  }
  if (repeat.end === "count") rule.count = int(repeat.count) ?? 0;
  if (repeat.end === "until") rule.until = endOfDayIso(repeat.until, zone);
  return rule;
}

function reminderFromDraft(r: ReminderDraft, zone: string): ReminderIn {
  if (r.kind === "absolute") return { kind: "absolute", at: wallTimeToIso(r.at, zone) };
  return { kind: "before_due", minutes_before: int(r.minutes) };
}

export function payloadFromDraft(draft: TaskDraft): TaskCreate {
  return {
    title: draft.title.trim(),
    notes: draft.notes,
    priority: draft.priority,
    tags: draft.tags
      .split(",")
      .map((t) => t.trim().replace(/^#/, ""))
      .filter(Boolean),
    due_at: draft.due ? wallTimeToIso(draft.due, draft.zone) : null,
    time_zone: draft.zone,
    reminders: draft.reminders.map((r) => reminderFromDraft(r, draft.zone)),
    recurrence: ruleFromDraft(draft.repeat, draft.zone),
  };
}

/** The fields of `payload` that differ from `initial`: an edit sends only those. */
export function changes(payload: TaskCreate, initial: TaskCreate): TaskUpdate {
  const update: Record<string, unknown> = {};
  for (const key of Object.keys(payload) as (keyof TaskCreate)[]) {
    if (JSON.stringify(payload[key]) !== JSON.stringify(initial[key])) update[key] = payload[key];
  }
  return update as TaskUpdate;
}

/** What the server would refuse anyway, said before sending. */
export function draftProblems(draft: TaskDraft, payload: TaskCreate): FieldError[] {
  const problems: FieldError[] = [];
  const add = (field: string, path: (string | number)[], message: string): void => {
    problems.push({ field, path, message });
  };
  if (!payload.title) add("title", [], "Give the task a title.");
  if (draft.due && !payload.due_at) add("due_at", [], "Enter a complete date and time.");
  draft.reminders.forEach((r, index) => {
    if (r.kind === "absolute" && !wallTimeToIso(r.at, draft.zone)) {
      add("reminders", [index], "Choose the date and time to be reminded.");
    } else if (r.kind === "before_due") {
      const minutes = int(r.minutes);
      if (minutes === null || minutes < 0) {
        add("reminders", [index], "Enter how many minutes before the due time (0 or more).");
      } else if (!payload.due_at) {
        add("reminders", [index], "A reminder before the due time needs a due date: set one above.");
      }
    }
  });
  const rule = payload.recurrence;
  if (rule) {
    if (!payload.due_at) add("recurrence", [], "A repeating task needs a due date to repeat from.");
    if (!rule.interval || rule.interval < 1 || rule.interval > 1000) {
      add("recurrence", ["interval"], "Repeat every: enter a whole number from 1 to 1000.");
    }
    if (draft.repeat.end === "count" && (!rule.count || rule.count < 1)) {
      add("recurrence", ["count"], "Number of times: enter 1 or more.");
    }
    if (draft.repeat.end === "until") {
      if (!rule.until) add("recurrence", ["until"], "Choose the last day it repeats.");
      else if (payload.due_at && new Date(rule.until) < new Date(payload.due_at)) {
        add(
          "recurrence",
          ["until"],
          "The repeat ends before the task is first due. Choose a later end date.",
        );
      }
    }
  }
  return problems;
}
