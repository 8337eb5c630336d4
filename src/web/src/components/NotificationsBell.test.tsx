import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { FakeApi, makeNotification } from "../test/fakeApi";
import { liveAndLoaded, signedIn } from "../test/render";

describe("notifications", () => {
  it("offers Snooze only while the reminder's task is open, with names that start with the visible text", async () => {
    const api = new FakeApi();
    api.notifications = [
      makeNotification({ title: "Call mum", task_status: "open" }),
      makeNotification({ title: "Old plan", task_status: null }),
    ];
    const { user } = signedIn(api);
    await liveAndLoaded();
    await user.click(screen.getByTestId("notifications-toggle"));
    const [open, gone] = await screen.findAllByTestId("notification-item");
    const snooze = within(open!).getByTestId("notification-snooze");
    expect(snooze).toHaveTextContent("Snooze 10 min");
    expect(snooze).toHaveAccessibleName("Snooze 10 min: Call mum");
    expect(within(gone!).queryByTestId("notification-snooze")).not.toBeInTheDocument();
    expect(within(gone!).getByTestId("notification-task-gone")).toHaveTextContent("This task was deleted.");
    expect(within(gone!).getByTestId("notification-read")).toHaveAccessibleName("Mark read: Old plan");
  });

  it("follows a read in another tab: the count and the page title update", async () => {
    const api = new FakeApi();
    api.notifications = [makeNotification({ title: "Pay rent" })];
    signedIn(api);
    await liveAndLoaded();
    await waitFor(() => expect(screen.getByTestId("notifications-count")).toHaveTextContent("1"));
    expect(document.title).toBe("(1) Todo Cloud");
    api.notifications[0]!.read_at = new Date().toISOString(); // read in the other tab
    await act(async () => {
      api.refresh("notification", api.notifications[0]!.task_id);
    });
    await waitFor(() => expect(screen.getByTestId("notifications-count")).toHaveTextContent("0"));
    expect(document.title).toBe("Todo Cloud");
  });

  it("announces a reminder that fires while the page is open", async () => {
    const api = new FakeApi();
    const { user } = signedIn(api);
    await liveAndLoaded();
    await waitFor(() => expect(api.sent("GET", "/notifications").length).toBeGreaterThan(0));
    api.notifications.push(makeNotification({ title: "Stand up", task_status: "open", task_id: "t-1" }));
    await act(async () => {
      api.refresh("notification", "t-1");
    });
    const toast = screen.getByTestId("toast");
    await waitFor(() => expect(toast).toHaveTextContent("Stand up"));
    await user.click(within(toast).getByRole("button", { name: "Snooze 10 min: Stand up" }));
    await waitFor(() => expect(api.sent("POST", "/tasks/t-1/snooze")).toHaveLength(1));
  });
});
