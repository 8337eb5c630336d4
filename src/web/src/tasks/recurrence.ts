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

/** "last", "2nd to last", "3rd" ... as people say which one of a month's days. */
export function which(n: number): string {
  if (n === -1) return "last";
  if (n < 0) return `${ordinal(-n)} to last`;
  return ordinal(n);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Every 2 weeks on Mon, Wed, until Jan 31, 2030 (from completion)". */
export function describeRule(rule: RecurrenceRule, zone: string): string {
  const interval = rule.interval ?? 1;
  const [singular, plural] = UNITS[rule.frequency];
  let text = interval === 1 ? `Every ${singular}` : `Every ${interval} ${plural}`;
  const byDay = rule.by_day ?? [];
  const plainDays = byDay.filter((d) => d.ordinal == null).map((d) => d.weekday);
  const nthDays = byDay.filter((d) => d.ordinal != null);
  if (plainDays.length === 5 && nthDays.length === 0 && WORKWEEK.every((d) => plainDays.includes(d))) {
    text = interval === 1 ? "Every weekday" : `${text} on weekdays`;
  } else if (plainDays.length > 0 || nthDays.length > 0) {
    const parts = [
      ...plainDays.map((d) => WEEKDAY_SHORT[d]),
      ...nthDays.map((d) => `the ${which(d.ordinal ?? 1)} ${WEEKDAY_LONG[d.weekday]}`),
    ];
    text += ` on ${parts.join(", ")}`;
  }
  const monthDays = rule.by_month_day ?? [];
  if (monthDays.length > 0) {
    const named = monthDays.map((d) => (d === -1 ? "last day" : d < 0 ? `${which(d)} day` : ordinal(d)));
    text += ` on the ${named.join(", ")}`;
    if (rule.missing_day === "last_day" && monthDays.some((d) => d > 28)) {
      text += " (or the month's last day)";
    }
  }
  const months = rule.by_month ?? [];
  if (months.length > 0) text += ` in ${months.map((m) => MONTHS[m - 1]).join(", ")}`;
  const positions = rule.by_set_position ?? [];
  if (positions.length > 0) text += `, only the ${positions.map(which).join(", ")} of those`;
  if (rule.count === 1) text += ", once";
  else if (rule.count != null) text += `, ${rule.count} times`;
  if (rule.until) text += `, until ${formatDay(rule.until, zone)}`;
  if (rule.basis === "completion") text += " (from completion)";
  return text;
}
