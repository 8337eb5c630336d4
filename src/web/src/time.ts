// Dates and times. The API speaks instants (ISO 8601 with an offset); people enter and read
// wall times in a task's own time zone, which need not be the browser's.
import { TZDate } from "@date-fns/tz";

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

const pad = (n: number): string => String(n).padStart(2, "0");
const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2030-01-07T09:00" read as a wall time in `zone` -> ISO 8601 with that zone's offset. */
export function wallTimeToIso(wall: string, zone: string): string | null {
  const m = WALL_TIME.exec(wall);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new TZDate(y, mo - 1, d, h, mi, Number.isNaN(s) ? 0 : s, zone);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(".000", "");
}

/** An instant -> the "YYYY-MM-DDTHH:mm" wall time it is in `zone` (for datetime-local). */
export function isoToWallTime(iso: string | null | undefined, zone: string): string {
  if (!iso) return "";
  const date = new TZDate(iso, zone);
  if (Number.isNaN(date.getTime())) return "";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** "2030-01-31" -> the last second of that day in `zone`, as ISO with its offset. */
export function endOfDayIso(day: string, zone: string): string | null {
  const m = DATE.exec(day);
  if (!m) return null;
  const [, y, mo, d] = m.map(Number) as [number, number, number, number];
  const date = new TZDate(y, mo - 1, d, 23, 59, 59, zone);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(".000", "");
}

/** An instant -> "YYYY-MM-DD", the day it falls on in `zone`. */
export function isoToDay(iso: string | null | undefined, zone: string): string {
  return isoToWallTime(iso, zone).slice(0, 10);
}

/** "America/New_York" -> "New York". */
export function zoneLabel(zone: string): string {
  const city = zone.split("/").pop() ?? zone;
  return city.replaceAll("_", " ");
}

export function allTimeZones(): string[] {
  const zones = new Set<string>(
    typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [],
  );
  zones.add("UTC");
  zones.add(browserTimeZone());
  return [...zones].sort();
}

function formatter(options: Intl.DateTimeFormatOptions, zone?: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(undefined, zone ? { ...options, timeZone: zone } : options);
}

/** "Mon, Jan 7, 9:00 AM" (with the year when it is not this year), in `zone` or locally. */
export function formatDateTime(iso: string, zone?: string, now: Date = new Date()): string {
  const date = new Date(iso);
  const year = formatter({ year: "numeric" }, zone);
  const sameYear = year.format(date) === year.format(now);
  return formatter(
    sameYear
      ? { weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }
      : { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" },
    zone,
  ).format(date);
}

/** "Monday, January 7, 2030 at 9:00 AM". */
export function formatFull(iso: string, zone?: string): string {
  return formatter({ dateStyle: "full", timeStyle: "short" }, zone).format(new Date(iso));
}

/** "Jan 31, 2030": the day `iso` falls on in `zone`. */
export function formatDay(iso: string, zone?: string): string {
  return formatter({ year: "numeric", month: "short", day: "numeric" }, zone).format(new Date(iso));
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "in 5 min", "3 h ago", "in 2 days", "now". */
export function relative(iso: string, now: number = Date.now()): string {
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  if (abs < 45_000) return "now";
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? "" : "s"}`;
  let text: string;
  if (abs < HOUR) text = `${Math.max(1, Math.round(abs / MINUTE))} min`;
  else if (abs < DAY) text = `${Math.round(abs / HOUR)} h`;
  else if (abs < 45 * DAY) text = plural(Math.round(abs / DAY), "day");
  else if (abs < 365 * DAY) text = plural(Math.round(abs / (30 * DAY)), "month");
  else text = plural(Math.round(abs / (365 * DAY)), "year");
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/** 90 -> "1 h 30 min", 1440 -> "1 day", 0 -> "at the due time". */
export function formatMinutes(total: number): string {
  if (!Number.isFinite(total) || total < 0) return "";
  if (total === 0) return "at the due time";
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  const minutes = total % 60;
  const parts: string[] = [];
  if (days) parts.push(`${days} ${days === 1 ? "day" : "days"}`);
  if (hours) parts.push(`${hours} h`);
  if (minutes) parts.push(`${minutes} min`);
  return parts.join(" ");
}
