// How a repeat reads to a person, from the API's structured rule, with dates formatted in
// the task's own zone (the API's own `recurrence_text` writes ISO dates).
import type { RecurrenceRule, Weekday } from "../api/types";
import { formatDay } from "../time";

export const WEEKDAYS: readonly Weekday[] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
export const WORKWEEK: readonly Weekday[] = WEEKDAYS.slice(0, 5);
export const WEEKDAY_SHORT: Record<Weekday, string> = {
  MO: "Mon",
  TU: "Tue",
  WE: "Wed",
  TH: "Thu",
  FR: "Fri",
  SA: "Sat",
  SU: "Sun",
};
export const WEEKDAY_LONG: Record<Weekday, string> = {
  MO: "Monday",
  TU: "Tuesday",
  WE: "Wednesday",
  TH: "Thursday",
  FR: "Friday",
  SA: "Saturday",
  SU: "Sunday",
};
export const UNITS: Record<RecurrenceRule["frequency"], [string, string]> = {
  daily: ["day", "days"],
  weekly: ["week", "weeks"],
  monthly: ["month", "months"],
  yearly: ["year", "years"],
};

export function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th");
  return `${n}${suffix}`;
}

/** "Every 2 weeks on Mon, Wed, until Jan 31, 2030 (from completion)". */
export function describeRule(rule: RecurrenceRule, zone: string): string {
  const interval = rule.interval ?? 1;
  const [singular, plural] = UNITS[rule.frequency];
  let text = interval === 1 ? `Every ${singular}` : `Every ${interval} ${plural}`;
  const days = rule.weekdays ?? null;
  if (days && days.length === 5 && WORKWEEK.every((d) => days.includes(d))) {
    text = interval === 1 ? "Every weekday" : `${text} on weekdays`;
  } else if (days) {
    text += ` on ${days.map((d) => WEEKDAY_SHORT[d]).join(", ")}`;
  } else if (rule.nth_weekday) {
    const which = rule.nth_weekday.ordinal === -1 ? "last" : ordinal(rule.nth_weekday.ordinal);
    text += ` on the ${which} ${WEEKDAY_LONG[rule.nth_weekday.weekday]}`;
  } else if (rule.month_day === -1) {
    text += " on the last day";
  } else if (rule.month_day != null) {
    text += ` on the ${ordinal(rule.month_day)}`;
  }
  if (rule.count === 1) text += ", once";
  else if (rule.count != null) text += `, ${rule.count} times`;
  if (rule.until) text += `, until ${formatDay(rule.until, zone)}`;
  if (rule.basis === "completion") text += " (from completion)";
  return text;
}
