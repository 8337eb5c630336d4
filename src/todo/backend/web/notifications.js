// The bell: unread count, the notifications panel, and toasts for reminders as they arrive.

import { api } from "./api.js";
import { byId, h, icon } from "./dom.js";
import { formatFull, relative } from "./format.js";
import { showToast } from "./toast.js";

export class NotificationsPanel {
  #items = [];
  #known = null; // ids seen so far; null until the first load (which announces nothing)
  #loading = null;
  #again = false;

  constructor({ onError }) {
    this.onError = onError;
    this.toggleBtn = byId("notifications-toggle");
    this.countEl = byId("notifications-count");
    this.panel = byId("notifications-panel");
    this.list = byId("notifications-list");
    this.readAllBtn = byId("notifications-read-all");

    this.toggleBtn.addEventListener("click", () => this.setOpen(this.panel.hidden));
    this.readAllBtn.addEventListener("click", () => this.markAllRead());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.panel.hidden && !document.querySelector("dialog[open]")) {
        this.setOpen(false);
        this.toggleBtn.focus();
      }
    });
    document.addEventListener("pointerdown", (e) => {
      if (!this.panel.hidden && !this.panel.contains(e.target) && !this.toggleBtn.contains(e.target)) {
        this.setOpen(false);
      }
    });
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.toggleBtn.setAttribute("aria-expanded", String(open));
    if (open) {
      this.render();
      this.load();
      (this.panel.querySelector("button:not([disabled])") ?? this.panel).focus();
    }
  }

  reset() {
    this.#items = [];
    this.#known = null;
    this.setOpen(false);
    this.#setCount(0);
    this.list.replaceChildren();
  }

  /** Reload; reminders not seen before (after the first load) pop up as toasts. */
  async load() {
    if (this.#loading) {
      this.#again = true; // one more round after the one in flight
      return this.#loading;
    }
    this.#loading = (async () => {
      try {
        const { data, unread } = await api.listNotifications();
        const fresh = this.#known ? data.filter((n) => !this.#known.has(n.id) && !n.read_at) : [];
        this.#known = new Set([...(this.#known ?? []), ...data.map((n) => n.id)]);
        this.#items = data;
        this.#setCount(unread);
        this.render();
        for (const n of fresh.reverse()) this.#announce(n);
      } catch (err) {
        if (err.status !== 401) this.onError?.(err);
      }
    })();
    try {
      await this.#loading;
    } finally {
      this.#loading = null;
    }
    if (this.#again) {
      this.#again = false;
      await this.load();
    }
  }

  #setCount(unread) {
    this.countEl.textContent = String(unread);
    this.countEl.dataset.zero = String(unread === 0);
    document.title = unread ? `(${unread}) Todo Cloud` : "Todo Cloud";
    this.toggleBtn.setAttribute(
      "aria-label",
      unread === 1 ? "Notifications, 1 unread" : `Notifications, ${unread} unread`,
    );
  }

  #announce(n) {
    const isReminder = n.kind === "reminder";
    showToast(n.title, {
      title: isReminder ? "Reminder" : "Notification",
      tone: "reminder",
      timeout: 15_000,
      actions: isReminder
        ? [
            { label: "Snooze 10 min", onClick: () => this.snooze(n) },
            { label: "Mark read", onClick: () => this.markRead(n) },
          ]
        : [],
    });
  }

  render() {
    const hadFocus = this.panel.contains(document.activeElement);
    if (!this.#items.length) {
      this.list.replaceChildren(h("li", { class: "empty-note" }, "You're all caught up."));
    } else {
      this.list.replaceChildren(...this.#items.map((n) => this.#row(n)));
    }
    this.readAllBtn.disabled = !this.#items.some((n) => !n.read_at);
    if (hadFocus) this.#keepFocus();
  }

  #row(n) {
    const unread = !n.read_at;
    return h(
      "li",
      { class: `notification${unread ? " unread" : ""}`, dataset: { testid: "notification-item", id: n.id } },
      h(
        "div",
        { class: "notification-text" },
        h("span", { class: "notification-kind" }, icon(n.kind === "reminder" ? "clock" : "bell"),
          n.kind === "reminder" ? "Reminder" : n.kind, unread ? h("span", { class: "sr-only" }, " (unread)") : null),
        h("strong", { class: "notification-title" }, n.title),
        h("time", { datetime: n.fire_at, title: formatFull(n.fire_at) }, relative(n.fire_at)),
      ),
      h(
        "div",
        { class: "notification-actions" },
        n.kind === "reminder"
          ? h("button", {
              type: "button",
              class: "btn small",
              dataset: { testid: "notification-snooze" },
              "aria-label": `Snooze "${n.title}" 10 minutes`,
              onclick: () => this.snooze(n),
            }, "Snooze 10 min")
          : null,
        unread
          ? h("button", {
              type: "button",
              class: "btn small ghost",
              dataset: { testid: "notification-read" },
              "aria-label": `Mark "${n.title}" read`,
              onclick: () => this.markRead(n),
            }, "Mark read")
          : null,
      ),
    );
  }

  async markRead(n) {
    try {
      await api.markNotificationRead(n.id);
    } catch (err) {
      this.onError?.(err);
    }
    await this.load();
    this.#keepFocus();
  }

  async markAllRead() {
    try {
      await api.markAllNotificationsRead();
    } catch (err) {
      this.onError?.(err);
    }
    await this.load();
    this.#keepFocus();
  }

  async snooze(n) {
    try {
      await api.snoozeTask(n.task_id, 10);
      if (!n.read_at) await api.markNotificationRead(n.id);
      showToast(`"${n.title}" will remind you again in 10 minutes.`, { title: "Snoozed" });
    } catch (err) {
      this.onError?.(err);
    }
    await this.load();
    this.#keepFocus();
  }

  /** After a re-render removed the focused button, keep keyboard users inside the panel. */
  #keepFocus() {
    if (!this.panel.hidden && !this.panel.contains(document.activeElement)) {
      (this.panel.querySelector("button:not([disabled])") ?? this.panel).focus();
    }
  }
}
