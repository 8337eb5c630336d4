// Dates and times: the API speaks ISO 8601 with offsets, the page shows the browser's local time.

export const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const pad = (n, width = 2) => String(Math.abs(n)).padStart(width, "0");

/** A Date or ISO string -> the value of an <input type="datetime-local"> in local time. */
export function toLocalInput(value) {
  if (!value) return "";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A Date -> ISO 8601 in local time with the browser's offset, e.g. 2030-01-07T09:00:00+01:00. */
export function toIsoWithOffset(d) {
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
  );
}

/** "2030-01-07T09:00" (local wall time) -> ISO with offset, or null when empty/invalid. */
export function localInputToIso(value) {
  if (!value) return null;
  const d = new Date(value); // a date-time without offset is read as local time
  return Number.isNaN(d.getTime()) ? null : toIsoWithOffset(d);
}

/** "2030-01-31" -> the end of that local day as ISO with offset. */
export function endOfLocalDayIso(dateValue) {
  if (!dateValue) return null;
  const [y, m, d] = dateValue.split("-").map(Number);
  const end = new Date(y, m - 1, d, 23, 59, 59);
  return Number.isNaN(end.getTime()) ? null : toIsoWithOffset(end);
}

/** ISO -> "2030-01-31" as the date written in its own offset (as the server describes it). */
export function isoDatePart(iso) {
  return iso ? String(iso).slice(0, 10) : "";
}

const sameYear = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const otherYear = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/** Short local date-time, e.g. "Mon, Jan 7, 9:00 AM" (the year only when not this year). */
export function formatDateTime(iso) {
  const d = new Date(iso);
  return (d.getFullYear() === new Date().getFullYear() ? sameYear : otherYear).format(d);
}

export function formatFull(iso) {
  return full.format(new Date(iso));
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "in 5 min", "3 h ago", "in 2 days", "now". */
export function relative(iso, now = Date.now()) {
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  let text;
  if (abs < 45_000) return "now";
  if (abs < HOUR) text = `${Math.max(1, Math.round(abs / MINUTE))} min`;
  else if (abs < DAY) text = `${Math.round(abs / HOUR)} h`;
  else if (abs < 45 * DAY) {
    const days = Math.round(abs / DAY);
    text = `${days} ${days === 1 ? "day" : "days"}`;
  } else if (abs < 365 * DAY) {
    const months = Math.round(abs / (30 * DAY));
    text = `${months} ${months === 1 ? "month" : "months"}`;
  } else {
    const years = Math.round(abs / (365 * DAY));
    text = `${years} ${years === 1 ? "year" : "years"}`;
  }
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/** 90 -> "1 h 30 min", 1440 -> "1 day". */
export function formatMinutes(total) {
  const n = Number(total);
  if (!Number.isFinite(n) || n < 0) return "";
  if (n === 0) return "at due time";
  const days = Math.floor(n / 1440);
  const hours = Math.floor((n % 1440) / 60);
  const minutes = n % 60;
  const parts = [];
  if (days) parts.push(`${days} ${days === 1 ? "day" : "days"}`);
  if (hours) parts.push(`${hours} h`);
  if (minutes) parts.push(`${minutes} min`);
  return parts.join(" ");
}
