// The bell in the top bar: unread count (also in the page title) and the panel of
// notifications with their actions. Every button's name starts with its visible text.
import { useEffect, useId, useRef, useState } from "react";

import type { Notification } from "../api/types";
import { canSnooze, type Notifications } from "../notifications/store";
import { useStore } from "../store";
import { formatFull, relative } from "../time";
import { Icon } from "./Icon";

export function NotificationsBell({ store }: { store: Notifications }) {
  const { items, unread } = useStore(store);
  const [open, setOpen] = useState(false);
  const panel = useRef<HTMLElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const id = useId();

  useEffect(() => {
    document.title = unread ? `(${unread}) Todo Cloud` : "Todo Cloud";
  }, [unread]);

  useEffect(() => {
    if (!open) return;
    void store.load();
    const first = panel.current?.querySelector<HTMLElement>("button:not([disabled])");
    (first ?? panel.current)?.focus();
    const onPointer = (event: PointerEvent): void => {
      const target = event.target as Node;
      if (!panel.current?.contains(target) && !toggle.current?.contains(target)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
        setOpen(false);
        toggle.current?.focus();
      }
    };
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open, store]);

  // After an action re-renders the list, keep keyboard users inside the panel.
  const keepFocus = (): void => {
    if (panel.current && !panel.current.contains(document.activeElement)) {
      (panel.current.querySelector<HTMLElement>("button:not([disabled])") ?? panel.current).focus();
    }
  };
  const act = (work: Promise<unknown>): void => {
    void work.then(keepFocus);
  };

  return (
    <div className="notif-wrap">
      <button
        ref={toggle}
        type="button"
        className="icon-btn bell"
        data-testid="notifications-toggle"
        aria-expanded={open}
        aria-controls={`${id}-panel`}
        aria-label={unread === 1 ? "Notifications, 1 unread" : `Notifications, ${unread} unread`}
        onClick={() => setOpen(!open)}
      >
        <Icon name="bell" />
        <span className="count" data-testid="notifications-count" data-zero={unread === 0} aria-hidden="true">
          {unread}
        </span>
      </button>
      {open ? (
        <section
          ref={panel}
          className="notif-panel"
          id={`${id}-panel`}
          tabIndex={-1}
          aria-labelledby={`${id}-heading`}
        >
          <header className="notif-head">
            <h2 id={`${id}-heading`}>Notifications</h2>
            <button
              type="button"
              className="btn small ghost"
              data-testid="notifications-read-all"
              disabled={!items.some((n) => !n.read_at)}
              onClick={() => act(store.markAllRead())}
            >
              Mark all read
            </button>
          </header>
          <ul className="notif-list">
            {items.length === 0 ? <li className="empty-note">You&apos;re all caught up.</li> : null}
            {items.map((n) => (
              <NotificationItem
                key={n.id}
                notification={n}
                onSnooze={() => act(store.snooze(n))}
                onRead={() => act(store.markRead(n))}
              />
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}

function NotificationItem({
  notification: n,
  onSnooze,
  onRead,
}: {
  notification: Notification;
  onSnooze: () => void;
  onRead: () => void;
}) {
  const unread = !n.read_at;
  const reminder = n.kind === "reminder";
  return (
    <li className={`notification${unread ? " unread" : ""}`} data-testid="notification-item" data-id={n.id}>
      <div className="notification-text">
        <span className="notification-kind">
          <Icon name={reminder ? "clock" : "bell"} />
          {reminder ? "Reminder" : n.kind}
          {unread ? <span className="sr-only"> (unread)</span> : null}
        </span>
        <strong className="notification-title">{n.title}</strong>
        <time dateTime={n.fire_at} title={formatFull(n.fire_at)}>
          {relative(n.fire_at)}
        </time>
        {n.task_status === null ? (
          <span className="hint" data-testid="notification-task-gone">
            This task was deleted.
          </span>
        ) : null}
      </div>
      <div className="notification-actions">
        {canSnooze(n) ? (
          <button
            type="button"
            className="btn small"
            data-testid="notification-snooze"
            aria-label={`Snooze 10 min: ${n.title}`}
            onClick={onSnooze}
          >
            Snooze 10 min
          </button>
        ) : null}
        {unread ? (
          <button
            type="button"
            className="btn small ghost"
            data-testid="notification-read"
            aria-label={`Mark read: ${n.title}`}
            onClick={onRead}
          >
            Mark read
          </button>
        ) : null}
      </div>
    </li>
  );
}
