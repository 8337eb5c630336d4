import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { FakeApi, makeTask } from "../test/fakeApi";
import { liveAndLoaded, row, signedIn } from "../test/render";

describe("the task list", () => {
  it("shows open tasks by default, most urgent first under 'Priority: highest first'", async () => {
    const api = new FakeApi();
    api.tasks = [makeTask({ title: "Open one" })];
    const { user } = signedIn(api);
    await liveAndLoaded();
    expect(api.sent("GET", "/tasks")[0]?.query.get("status")).toBe("open");
    expect(screen.getByTestId("filter-status")).toHaveDisplayValue("Open");

    await user.selectOptions(screen.getByTestId("sort"), "Priority: highest first");
    await waitFor(() => expect(api.sent("GET", "/tasks").at(-1)?.query.get("sort")).toBe("priority"));
  });

  it("after a failed first load says so, and loads when the live stream connects", async () => {
    const api = new FakeApi();
    api.tasks = [makeTask({ title: "Water the plants" })];
    api.fail("GET /tasks", { status: 503, body: { detail: "database unavailable", code: "service_unavailable" } });
    signedIn(api);
    // The stream's "ready" arrives after the failed load: the list catches up by itself.
    expect(await screen.findByText("Water the plants", {}, { timeout: 5000 })).toBeInTheDocument();
    expect(api.sent("GET", "/tasks").length).toBeGreaterThanOrEqual(2);
  });

  it("offers to try again when the list cannot be loaded, in words", async () => {
    const api = new FakeApi();
    api.tasks = [makeTask({ title: "Call the bank" })];
    api.fail("GET /tasks", { status: 503, body: { detail: "database unavailable" } }, 100);
    const { user } = signedIn(api);
    const error = await screen.findByTestId("list-error");
    expect(error).toHaveTextContent("Todo Cloud is unavailable right now.");
    expect(error).not.toHaveTextContent("database unavailable");
    expect(screen.getByTestId("live-status")).toHaveTextContent("live");
    api.clearFailures();
    await user.click(within(error).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Call the bank")).toBeInTheDocument();
  });

  it("completing with the keyboard puts focus on Undo, and Undo brings the task and focus back", async () => {
    const api = new FakeApi();
    api.tasks = [makeTask({ title: "Stretch" }), makeTask({ title: "Read" })];
    const { user } = signedIn(api);
    await liveAndLoaded();
    const box = within(row("Stretch")).getByTestId("task-complete");
    box.focus();
    await user.keyboard(" ");
    const undo = await screen.findByRole("button", { name: /^Undo/ });
    await waitFor(() => expect(undo).toHaveFocus());
    expect(screen.queryByText("Stretch")).not.toBeInTheDocument(); // no struck copy left behind
    await user.keyboard("{Enter}");
    await waitFor(() => expect(within(row("Stretch")).getByTestId("task-complete")).toHaveFocus());
    expect(api.sent("POST", `/tasks/${api.tasks[0]!.id}/reopen`)).toHaveLength(1);
  });

  it("dismissing the Undo toast leaves focus in the list, never on the page", async () => {
    const api = new FakeApi();
    api.tasks = [makeTask({ title: "One" }), makeTask({ title: "Two" })];
    const { user } = signedIn(api);
    await liveAndLoaded();
    within(row("One")).getByTestId("task-complete").focus();
    await user.keyboard(" ");
    await waitFor(() => expect(screen.getByRole("button", { name: /^Undo/ })).toHaveFocus());
    await user.keyboard("{Escape}");
    expect(within(row("Two")).getByTestId("task-complete")).toHaveFocus();
  });

  it("deletes with Undo: Undo restores the task without deleting it on the server", async () => {
    const api = new FakeApi();
    const task = makeTask({ title: "Old receipt" });
    api.tasks = [task];
    const { user } = signedIn(api);
    await liveAndLoaded();
    await user.click(within(row("Old receipt")).getByTestId("task-delete"));
    expect(screen.queryByText("Old receipt")).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: /^Undo/ }));
    expect(await screen.findByText("Old receipt")).toBeInTheDocument();
    expect(api.sent("DELETE", `/tasks/${task.id}`)).toHaveLength(0);
  });

  it("deletes on the server once the Undo toast is gone", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const api = new FakeApi();
      const task = makeTask({ title: "Old receipt" });
      api.tasks = [task];
      const { user } = signedIn(api);
      await liveAndLoaded();
      await user.click(within(row("Old receipt")).getByTestId("task-delete"));
      expect(api.sent("DELETE", `/tasks/${task.id}`)).toHaveLength(0);
      await act(() => vi.advanceTimersByTimeAsync(7000));
      await waitFor(() => expect(api.sent("DELETE", `/tasks/${task.id}`)).toHaveLength(1));
      expect(api.sent("DELETE", `/tasks/${task.id}`)[0]?.headers.get("If-Match")).toBe('"1"');
      expect(screen.queryByText("Old receipt")).not.toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });

  it("shows one toast at a time, and a replaced delete toast commits its delete", async () => {
    const api = new FakeApi();
    api.tasks = [makeTask({ title: "A" }), makeTask({ title: "B" }), makeTask({ title: "C" }), makeTask({ title: "D" })];
    const { user } = signedIn(api);
    await liveAndLoaded();
    for (const title of ["A", "B", "C", "D"]) {
      await user.click(within(row(title)).getByTestId("task-complete"));
      await waitFor(() => expect(screen.getByTestId("toast")).toHaveTextContent(`Completed “${title}”`));
      expect(screen.getByTestId("toast").children).toHaveLength(1);
    }
    const first = api.tasks.find((t) => t.title === "A")!;
    api.tasks.push(makeTask({ title: "E" }));
    await act(async () => {
      api.refresh("task");
    });
    await user.click(within(await screen.findByTestId("task-row")).getByTestId("task-delete"));
    expect(screen.getByTestId("toast").children).toHaveLength(1);
    await user.click(screen.getByTestId("new-task"));
    await user.type(screen.getByTestId("task-title"), "F");
    await user.click(screen.getByTestId("task-save"));
    await waitFor(() => expect(screen.getByTestId("toast")).toHaveTextContent("Created “F”"));
    await waitFor(() => expect(api.tasks.some((t) => t.title === "E")).toBe(false));
    expect(first.status).toBe("completed");
  });

  it("keeps the list live: a change in another tab shows without a reload", async () => {
    const api = new FakeApi();
    signedIn(api);
    await liveAndLoaded();
    api.tasks.push(makeTask({ title: "Made elsewhere" }));
    await act(async () => {
      api.refresh("task", api.tasks[0]!.id);
    });
    expect(await screen.findByText("Made elsewhere")).toBeInTheDocument();
  });
});
