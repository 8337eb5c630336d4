import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { FakeApi, makeTask } from "../test/fakeApi";
import { liveAndLoaded, row, signedIn } from "../test/render";

async function openNewTask() {
  const setup = signedIn();
  await liveAndLoaded();
  await setup.user.click(screen.getByTestId("new-task"));
  return setup;
}

describe("the task form", () => {
  it("reads the entered time in the chosen time zone", async () => {
    const { user, api } = await openNewTask();
    await user.type(screen.getByTestId("task-title"), "Pay rent");
    await user.type(screen.getByTestId("task-due"), "2030-01-07T09:00");
    await user.selectOptions(screen.getByTestId("task-timezone"), "America/New_York");
    expect(screen.getByTestId("task-due-hint")).toHaveTextContent("In New York time.");
    await user.selectOptions(screen.getByTestId("recurrence-frequency"), "monthly");
    await user.click(screen.getByTestId("task-save"));
    await waitFor(() => expect(api.sent("POST", "/tasks")).toHaveLength(1));
    const body = api.sent("POST", "/tasks")[0]!.body!;
    expect(body["due_at"]).toBe("2030-01-07T09:00:00-05:00");
    expect(body["time_zone"]).toBe("America/New_York");
  });

  it("refuses a repeat that ends before the first due date, beside the field", async () => {
    const { user, api } = await openNewTask();
    await user.type(screen.getByTestId("task-title"), "Report");
    await user.type(screen.getByTestId("task-due"), "2030-02-01T09:00");
    await user.selectOptions(screen.getByTestId("recurrence-frequency"), "weekly");
    fireEvent.change(screen.getByTestId("recurrence-until"), { target: { value: "2030-01-31" } });
    await user.click(screen.getByTestId("task-save"));
    expect(await screen.findByTestId("recurrence-error")).toHaveTextContent(
      "The repeat ends before the task is first due. Choose a later end date.",
    );
    expect(screen.getByTestId("recurrence-until")).toHaveAttribute("aria-invalid", "true");
    expect(api.sent("POST", "/tasks")).toHaveLength(0);
  });

  it("shows the server's validation errors beside their fields, in words", async () => {
    const { user, api } = await openNewTask();
    api.fail("POST /tasks", {
      status: 422,
      body: {
        detail: [
          { loc: ["body", "recurrence", "interval"], msg: "Input should be greater than or equal to 1", type: "greater_than_equal", ctx: { ge: 1 } },
          { loc: ["body", "tags"], msg: "Value error, tag 'a b' must not contain spaces or commas", type: "value_error" },
        ],
        code: "validation_error",
      },
    });
    await user.type(screen.getByTestId("task-title"), "Chores");
    await user.type(screen.getByTestId("task-tags"), "a b");
    await user.type(screen.getByTestId("task-due"), "2030-02-01T09:00");
    await user.selectOptions(screen.getByTestId("recurrence-frequency"), "daily");
    await user.click(screen.getByTestId("task-save"));
    expect(await screen.findByTestId("recurrence-error")).toHaveTextContent("Repeat every: enter 1 or more.");
    expect(screen.getByTestId("task-tags")).toHaveAccessibleDescription(
      "Separate tags with commas. Tags can't contain spaces; separate tags with commas.",
    );
    expect(screen.getByTestId("task-dialog")).not.toHaveTextContent("Input should");
  });

  it("says a conflicting edit in words and offers to reload", async () => {
    const api = new FakeApi();
    const task = makeTask({ title: "Groceries" });
    api.tasks = [task];
    const { user } = signedIn(api);
    await liveAndLoaded();
    await user.click(within(row("Groceries")).getByTestId("task-edit"));
    task.version = 2; // changed elsewhere after the list was read
    await user.clear(screen.getByTestId("task-title"));
    await user.type(screen.getByTestId("task-title"), "Groceries and bread");
    await user.click(screen.getByTestId("task-save"));
    const banner = await screen.findByTestId("task-form-error");
    expect(banner).toHaveTextContent("This task was changed somewhere else since you opened it.");
    expect(banner).not.toHaveTextContent("version");
    await user.click(within(banner).getByTestId("task-reload"));
    await waitFor(() => expect(screen.getByTestId("task-title")).toHaveValue("Groceries"));
  });

  it("shows a task's due time in its own zone when editing, and dates formatted in the list", async () => {
    const api = new FakeApi();
    api.tasks = [
      makeTask({
        title: "Standup",
        due_at: "2030-01-07T14:00:00Z",
        time_zone: "America/New_York",
        recurrence: {
          frequency: "weekly",
          interval: 1,
          basis: "due",
          week_start: "MO",
          missing_day: "skip",
          until: "2030-02-01T04:59:59Z",
        },
        recurrence_text: "Every week, until 2030-01-31",
      }),
    ];
    const { user } = signedIn(api);
    await liveAndLoaded();
    expect(within(row("Standup")).getByTestId("task-repeat")).toHaveTextContent("Every week, until Jan 31, 2030");
    expect(within(row("Standup")).getByTestId("task-due-zone")).toHaveTextContent("9:00 AM New York");
    await user.click(within(row("Standup")).getByTestId("task-edit"));
    expect(screen.getByTestId("task-due")).toHaveValue("2030-01-07T09:00");
    expect(screen.getByTestId("task-timezone")).toHaveValue("America/New_York");
  });
});
