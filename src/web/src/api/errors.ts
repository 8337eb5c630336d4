// Every error the API can give, as a sentence a person can act on: one place maps the
// API's machine codes (and, until every answer carries one, its HTTP statuses) and its
// field-level validation errors to the words the app shows. Raw server text never shows.

/** The API's machine codes (`code` of an error body `{detail, code}`). */
export type ErrorCode =
  | "validation_error"
  | "not_found"
  | "version_conflict"
  | "conflict"
  | "invalid_change"
  | "uncomputable"
  | "unauthorized"
  | "forbidden"
  | "email_taken"
  | "rate_limited"
  | "payload_too_large"
  | "bad_if_match"
  | "bad_request"
  | "method_not_allowed"
  | "unsupported_media_type"
  | "service_unavailable"
  | "internal_error"
  | "network"
  | "server_error"
  | "unknown";

/** A problem with one input: `field` is its name in the request body, `path` below it. */
export interface FieldError {
  field: string;
  path: (string | number)[];
  message: string;
}

/** What the request was about, for the words of its errors. */
export type Subject = "sign-in" | "sign-up" | "task" | "tasks" | "notification" | "snooze";

interface RawIssue {
  loc?: unknown;
  msg?: unknown;
  type?: unknown;
  ctx?: unknown;
}

const CODES: readonly ErrorCode[] = [
  "validation_error",
  "not_found",
  "version_conflict",
  "conflict",
  "invalid_change",
  "uncomputable",
  "unauthorized",
  "forbidden",
  "email_taken",
  "rate_limited",
  "payload_too_large",
  "bad_if_match",
  "bad_request",
  "method_not_allowed",
  "unsupported_media_type",
  "service_unavailable",
  "internal_error",
];

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly fieldErrors: FieldError[];
  readonly subject: Subject;

  constructor(status: number, body: unknown, subject: Subject) {
    const code = errorCode(status, body, subject);
    const fieldErrors = fieldErrorsOf(body);
    super(messageFor(code, subject, fieldErrors));
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fieldErrors = fieldErrors;
    this.subject = subject;
  }
}

/** A request that never reached the server (offline, DNS, refused, CORS). */
export function networkError(subject: Subject): ApiError {
  return new ApiError(0, null, subject);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The body's code, or one read from the status for answers that carry none yet. */
export function errorCode(status: number, body: unknown, subject: Subject): ErrorCode {
  const given = isRecord(body) ? body["code"] : undefined;
  if (typeof given === "string" && (CODES as readonly string[]).includes(given)) {
    // A plain 409 on sign-up can only be the email.
    return given === "conflict" && subject === "sign-up" ? "email_taken" : (given as ErrorCode);
  }
  switch (status) {
    case 0:
      return "network";
    case 400:
      return "bad_if_match";
    case 401:
      return "unauthorized";
    case 404:
      return "not_found";
    case 409:
      return subject === "sign-up" ? "email_taken" : "version_conflict";
    case 412:
      return "version_conflict";
    case 413:
      return "payload_too_large";
    case 422: {
      const detail = isRecord(body) ? body["detail"] : undefined;
      const issues = Array.isArray(detail) ? (detail as RawIssue[]) : [];
      return issues.length > 0 && issues.every((i) => i.type === "value_error")
        ? "invalid_change"
        : "validation_error";
    }
    case 429:
      return "rate_limited";
    case 502:
    case 503:
    case 504:
      return "service_unavailable";
    default:
      return status >= 500 ? "server_error" : "unknown";
  }
}

const MESSAGES: Record<ErrorCode, string> = {
  validation_error: "Some of what you entered can't be saved. Check the marked fields.",
  invalid_change: "That change isn't possible for this task. Check the marked fields.",
  not_found: "This task no longer exists: it was deleted, perhaps in another tab.",
  version_conflict:
    "This task was changed somewhere else since you opened it. Reload it to see the changes, then make yours again.",
  unauthorized: "Your session has expired. Please sign in again.",
  email_taken: "An account with this email already exists. Sign in instead?",
  rate_limited: "Too many attempts in a short time. Wait a minute, then try again.",
  payload_too_large: "That's more text than a task can hold. Shorten the notes and try again.",
  bad_if_match: "The page is out of date with the server. Reload the page and try again.",
  conflict: "Someone else changed this at the same moment. Reload, then try again.",
  uncomputable: "The next time this repeats can't be worked out. Check the repeat's settings.",
  forbidden: "You don't have access to that.",
  bad_request: "The page is out of date with the server. Reload the page and try again.",
  method_not_allowed: "The page is out of date with the server. Reload the page and try again.",
  unsupported_media_type: "The page is out of date with the server. Reload the page and try again.",
  internal_error: "Something went wrong on our side. Try again; if it keeps happening, reload the page.",
  service_unavailable:
    "Todo Cloud is unavailable right now. Nothing was changed; try again in a moment.",
  network: "Can't reach Todo Cloud. Check your connection and try again.",
  server_error: "Something went wrong on our side. Try again; if it keeps happening, reload the page.",
  unknown: "That didn't work. Try again, or reload the page.",
};

const SUBJECT_MESSAGES: Partial<Record<Subject, Partial<Record<ErrorCode, string>>>> = {
  "sign-in": {
    unauthorized: "Wrong email or password.",
    validation_error: "Enter your email address and password.",
  },
  "sign-up": { validation_error: "Check the marked fields." },
  notification: { not_found: "This notification no longer exists." },
  snooze: {
    not_found: "This task no longer exists, so it can't be snoozed.",
    invalid_change: "Only an open task can be snoozed.",
  },
  tasks: { validation_error: "These filters can't be used together. Clear them and try again." },
};

export function messageFor(code: ErrorCode, subject: Subject, fieldErrors: FieldError[] = []): string {
  if (code === "invalid_change" || code === "validation_error") {
    const first = fieldErrors[0];
    if (fieldErrors.length === 1 && first && !(first.field in FIELD_LABELS)) return first.message;
  }
  return SUBJECT_MESSAGES[subject]?.[code] ?? MESSAGES[code];
}

// --- field errors ---------------------------------------------------------------------

const FIELD_LABELS: Record<string, string> = {
  title: "Title",
  notes: "Notes",
  priority: "Priority",
  tags: "Tags",
  due_at: "Due date",
  time_zone: "Time zone",
  reminders: "Reminder",
  recurrence: "Repeat",
  email: "Email",
  password: "Password",
  display_name: "Display name",
  minutes: "Snooze time",
  until: "Snooze time",
};

const RECURRENCE_LABELS: Record<string, string> = {
  interval: "Repeat every",
  count: "Number of times",
  until: "End date",
  month_day: "Day of the month",
  weekdays: "Days of the week",
  nth_weekday: "Weekday of the month",
  frequency: "Repeats",
};

function labelOf(field: string, path: (string | number)[]): string {
  if (field === "recurrence" && typeof path[0] === "string") {
    return RECURRENCE_LABELS[path[0]] ?? "Repeat";
  }
  return FIELD_LABELS[field] ?? "This field";
}

/** Messages of our own validators (value_error), by field, in the app's words. */
function valueErrorMessage(field: string, path: (string | number)[], msg: string): string {
  const text = msg.replace(/^Value error, /, "");
  if (field === "time_zone") return "Choose a time zone from the list.";
  if (field === "title") return "Give the task a title.";
  if (field === "email") return "Enter a valid email address, like name@example.com.";
  if (field === "reminders") {
    if (/before_due|due_at/.test(text)) return "A reminder before the due time needs a due date: set one above.";
    if (/absolute|'at'/.test(text)) return "Choose the date and time to be reminded.";
    if (/at most/.test(text)) return "A task can have at most 10 reminders.";
  }
  if (field === "recurrence") {
    if (/before the first|ends before/.test(text)) return "The repeat ends before the task is first due. Choose a later end date.";
    if (/due_at/.test(text)) return "A repeating task needs a due date to repeat from.";
    if (/until and count/.test(text)) return "Choose either an end date or a number of times, not both.";
    if (/month_day/.test(text)) return "Choose a day of the month from the list.";
    if (/weekdays/.test(text)) return "Choose the days of the week it repeats on.";
  }
  if (field === "tags") {
    if (/spaces or commas/.test(text)) return "Tags can't contain spaces; separate tags with commas.";
    if (/longer than/.test(text)) return "Each tag can be at most 40 characters.";
    if (/at most/.test(text)) return "A task can have at most 20 tags.";
  }
  if (field === "task" && /open task/.test(text)) return "Only an open task can be snoozed.";
  if (field === "until" || /future/.test(text)) return "Choose a time in the future.";
  return `${labelOf(field, path)} isn't valid.`;
}

function issueMessage(field: string, path: (string | number)[], issue: RawIssue): string {
  const label = labelOf(field, path);
  const ctx = isRecord(issue.ctx) ? issue.ctx : {};
  const msg = typeof issue.msg === "string" ? issue.msg : "";
  switch (issue.type) {
    case "missing":
      return field === "title" ? "Give the task a title." : `${label} is required.`;
    case "string_too_short":
      if (field === "title") return "Give the task a title.";
      if (field === "password") return `Use at least ${String(ctx["min_length"] ?? 8)} characters.`;
      return `${label} is too short.`;
    case "string_too_long":
      return ctx["max_length"] ? `${label} can be at most ${String(ctx["max_length"])} characters.` : `${label} is too long.`;
    case "greater_than_equal":
    case "greater_than":
      return `${label}: enter ${String(ctx["ge"] ?? ctx["gt"] ?? "")} or more.`;
    case "less_than_equal":
    case "less_than":
      return `${label}: enter ${String(ctx["le"] ?? ctx["lt"] ?? "")} or less.`;
    case "int_parsing":
    case "int_type":
    case "int_from_float":
      return `${label}: enter a whole number.`;
    case "datetime_parsing":
    case "datetime_type":
    case "datetime_from_date_parsing":
      return `${label}: enter a complete date and time.`;
    case "timezone_aware":
      return `${label}: enter a complete date and time.`;
    case "enum":
    case "literal_error":
      return `${label}: choose one of the options.`;
    case "too_long":
      return field === "reminders" ? "A task can have at most 10 reminders." : `${label}: too many entries.`;
    case "extra_forbidden":
      return "The page sent something the server doesn't accept. Reload the page and try again.";
    case "value_error":
      return valueErrorMessage(field, path, msg);
    default:
      return `${label} isn't valid.`;
  }
}

/** FastAPI's 422 `detail` list as field errors in the app's words. */
export function fieldErrorsOf(body: unknown): FieldError[] {
  const detail = isRecord(body) ? body["detail"] : undefined;
  if (!Array.isArray(detail)) return [];
  return (detail as RawIssue[]).map((issue) => {
    const loc = Array.isArray(issue.loc) ? (issue.loc as (string | number)[]) : [];
    const rest = loc[0] === "body" || loc[0] === "query" || loc[0] === "path" ? loc.slice(1) : loc;
    const field = rest.length > 0 ? String(rest[0]) : "";
    // Union members show in `loc` as a type name ("function-after[...]"): not a place.
    const path = rest.slice(1).filter((p) => typeof p === "number" || !/[[(]/.test(p));
    return { field, path, message: issueMessage(field, path, issue) };
  });
}
