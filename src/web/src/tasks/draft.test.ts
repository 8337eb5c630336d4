import { describe, expect, it } from "vitest";

import { makeTask } from "../test/fakeApi";
import { changes, draftFromTask, draftProblems, payloadFromDraft } from "./draft";

describe("the task form's payload", () => {
  it("reads the due time and reminders in the chosen zone, not the browser's", () => {
    const draft = { ...draftFromTask(null, "Europe/Berlin"), title: "Pay rent", due: "2030-01-07T09:00" };
    draft.zone = "America/New_York";
    draft.reminders = [{ key: "r1", kind: "absolute", minutes: "15", at: "2030-01-07T08:00" }];
    draft.repeat = { ...draft.repeat, frequency: "monthly" };
    const payload = payloadFromDraft(draft);
    expect(payload.due_at).toBe("2030-01-07T09:00:00-05:00");
    expect(payload.time_zone).toBe("America/New_York");
    expect(payload.reminders).toEqual([{ kind: "absolute", at: "2030-01-07T08:00:00-05:00" }]);
  });

  it("shows a task's times in its own zone when editing", () => {
    const task = makeTask({ due_at: "2030-01-07T14:00:00Z", time_zone: "America/New_York" });
    expect(draftFromTask(task, "Europe/Berlin").due).toBe("2030-01-07T09:00");
  });

  it("sends only what changed", () => {
    const task = makeTask({ title: "Old", tags: ["a"] });
    const draft = draftFromTask(task, "Europe/Berlin");
    const initial = payloadFromDraft(draft);
    expect(changes(payloadFromDraft({ ...draft, title: "New" }), initial)).toEqual({ title: "New" });
  });
});

describe("problems caught before sending", () => {
  it("refuses a repeat that ends before the first due date", () => {
    const draft = { ...draftFromTask(null, "Europe/Berlin"), title: "Report", due: "2030-02-01T09:00" };
    draft.repeat = { ...draft.repeat, frequency: "weekly", end: "until", until: "2030-01-31" };
    expect(draftProblems(draft, payloadFromDraft(draft))).toEqual([
      {
        field: "recurrence",
        path: ["until"],
        message: "The repeat ends before the task is first due. Choose a later end date.",
      },
    ]);
    draft.repeat.until = "2030-02-01";
    expect(draftProblems(draft, payloadFromDraft(draft))).toEqual([]);
  });

  it("names each problem in words", () => {
    const draft = { ...draftFromTask(null, "UTC"), title: " " };
    draft.reminders = [{ key: "r1", kind: "before_due", minutes: "10", at: "" }];
    draft.repeat = { ...draft.repeat, frequency: "daily", interval: "0" };
    expect(draftProblems(draft, payloadFromDraft(draft)).map((p) => p.message)).toEqual([
      "Give the task a title.",
      "A reminder before the due time needs a due date: set one above.",
      "A repeating task needs a due date to repeat from.",
      "Repeat every: enter a whole number from 1 to 1000.",
    ]);
  });
});
