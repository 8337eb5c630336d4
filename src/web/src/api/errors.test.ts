import { describe, expect, it } from "vitest";

import { ApiError, type ErrorCode, errorCode, fieldErrorsOf } from "./errors";

// Raw server texts people used to see; none may reach them.
const RAW = [/Input should/, /version \d/, /task [0-9a-f-]{8,}/, /not found$/, /Value error/, /'at'/];

function expectHuman(message: string): void {
  for (const raw of RAW) expect(message).not.toMatch(raw);
  expect(message).toMatch(/^[A-Z].*[.?]$/);
}

describe("ApiError", () => {
  it("says every machine code in words, with or without a code in the body", () => {
    const cases: [number, ErrorCode][] = [
      [422, "validation_error"],
      [404, "not_found"],
      [412, "version_conflict"],
      [409, "version_conflict"],
      [401, "unauthorized"],
      [413, "payload_too_large"],
      [429, "rate_limited"],
      [400, "bad_if_match"],
      [503, "service_unavailable"],
      [500, "server_error"],
      [0, "network"],
    ];
    for (const [status, code] of cases) {
      const bare = new ApiError(status, { detail: "raw text" }, "task");
      const coded = new ApiError(status, { detail: "raw text", code }, "task");
      expect(bare.code).toBe(code);
      expect(coded.code).toBe(code);
      expectHuman(bare.message);
      expect(bare.message).not.toContain("raw text");
    }
    expect(errorCode(409, { detail: "x" }, "sign-up")).toBe("email_taken");
    expect(errorCode(409, { detail: "x", code: "conflict" }, "sign-up")).toBe("email_taken");
    for (const code of ["conflict", "uncomputable", "forbidden", "bad_request", "method_not_allowed",
      "unsupported_media_type", "internal_error", "email_taken", "rate_limited", "bad_if_match"] as const) {
      const error = new ApiError(400, { detail: "raw text", code }, "task");
      expect(error.code).toBe(code);
      expectHuman(error.message);
    }
    expect(errorCode(422, { detail: "x", code: "invalid_change" }, "task")).toBe("invalid_change");
    expect(errorCode(418, { detail: "x", code: "no_such_code" }, "task")).toBe("unknown");
  });

  it("words the messages people saw raw", () => {
    const conflict = new ApiError(
      412,
      { detail: "the task changed meanwhile: it is at version 2, not 1; reload it and apply your change again" },
      "task",
    );
    expect(conflict.message).toBe(
      "This task was changed somewhere else since you opened it. Reload it to see the changes, then make yours again.",
    );
    const missing = new ApiError(404, { detail: "task 5495e2b1-8c4d-4b7e-9d1f-0a1b2c3d4e5f not found" }, "task");
    expect(missing.message).toBe("This task no longer exists: it was deleted, perhaps in another tab.");
    expect(new ApiError(401, { detail: "wrong email or password" }, "sign-in").message).toBe("Wrong email or password.");
    expect(new ApiError(404, {}, "snooze").message).toBe("This task no longer exists, so it can't be snoozed.");
  });
});

describe("fieldErrorsOf", () => {
  it("names the field and says what to do, for every kind of validation error", () => {
    const body = {
      detail: [
        { loc: ["body", "recurrence", "interval"], msg: "Input should be greater than or equal to 1", type: "greater_than_equal", ctx: { ge: 1 } },
        { loc: ["body", "title"], msg: "String should have at least 1 character", type: "string_too_short", ctx: { min_length: 1 } },
        { loc: ["body", "notes"], msg: "String should have at most 10000 characters", type: "string_too_long", ctx: { max_length: 10000 } },
        { loc: ["body", "time_zone"], msg: "Value error, unknown IANA time zone 'Mars/Olympus'", type: "value_error" },
        { loc: ["body", "reminders", 0, "function-after[_one_of(), ReminderIn]"], msg: "Value error, an absolute reminder needs 'at' (and no 'minutes_before')", type: "value_error" },
        { loc: ["body", "due_at"], msg: "Input should have timezone info", type: "timezone_aware" },
        { loc: ["body", "priority"], msg: "Input should be 'low', 'medium', 'high' or 'urgent'", type: "enum" },
        { loc: ["body", "minutes"], msg: "Input should be less than or equal to 43200", type: "less_than_equal", ctx: { le: 43200 } },
        { loc: ["body", "email"], msg: "Field required", type: "missing" },
        { loc: ["body", "recurrence"], msg: "Value error, the repeat ends (until) before the first due date (due_at)", type: "value_error" },
      ],
    };
    const errors = fieldErrorsOf(body);
    expect(errors.map((e) => [e.field, e.path, e.message])).toEqual([
      ["recurrence", ["interval"], "Repeat every: enter 1 or more."],
      ["title", [], "Give the task a title."],
      ["notes", [], "Notes can be at most 10000 characters."],
      ["time_zone", [], "Choose a time zone from the list."],
      ["reminders", [0], "Choose the date and time to be reminded."],
      ["due_at", [], "Due date: enter a complete date and time."],
      ["priority", [], "Priority: choose one of the options."],
      ["minutes", [], "Snooze time: enter 43200 or less."],
      ["email", [], "Email is required."],
      ["recurrence", [], "The repeat ends before the task is first due. Choose a later end date."],
    ]);
    for (const e of errors) expectHuman(e.message);
  });

  it("reads nothing from answers that are not validation errors", () => {
    expect(fieldErrorsOf({ detail: "no" })).toEqual([]);
    expect(fieldErrorsOf(null)).toEqual([]);
  });
});
