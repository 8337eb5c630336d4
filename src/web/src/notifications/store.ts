// The bell: unread count, the list, and which reminders are new since the last look.
import { api } from "../api/client";
import type { ApiError } from "../api/errors";
import type { Notification } from "../api/types";
import { Store } from "../store";

export interface NotificationsState {
  items: Notification[];
  unread: number;
  loaded: boolean;
}

/** Snoozing needs the task to be there and open. */
export function canSnooze(n: Notification): boolean {
  return n.kind === "reminder" && n.task_status === "open";
}

export interface NotificationsListener {
  /** Unread reminders that arrived since the last load. */
  fresh: (fresh: Notification[]) => void;
  error: (err: ApiError) => void;
}

export class Notifications extends Store<NotificationsState> {
  private known: Set<string> | null = null; // ids seen; null until the first load
  private inFlight: Promise<void> | null = null;
  private again = false;
  private listener: NotificationsListener | null = null;

  constructor() {
    super({ items: [], unread: 0, loaded: false });
  }

  listen(listener: NotificationsListener): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = null;
    };
  }

  private onFresh(fresh: Notification[]): void {
    this.listener?.fresh(fresh);
  }

  private onError(err: ApiError): void {
    this.listener?.error(err);
  }

  /** Reload; unread reminders not seen before (after the first load) are `onFresh`. */
  load(): Promise<void> {
    if (this.inFlight) {
      this.again = true; // one more round after the one in flight
      return this.inFlight;
    }
    this.inFlight = (async () => {
      try {
        do {
          this.again = false;
          const { data, unread } = await api.listNotifications();
          const known = this.known;
          const fresh = known ? data.filter((n) => !known.has(n.id) && !n.read_at) : [];
          this.known = new Set([...(known ?? []), ...data.map((n) => n.id)]);
          this.set({ items: data, unread, loaded: true });
          if (fresh.length) this.onFresh(fresh.reverse());
        } while (this.again);
      } catch (err) {
        this.onError(err as ApiError);
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  async markRead(n: Notification): Promise<void> {
    try {
      await api.markNotificationRead(n.id);
    } catch (err) {
      this.onError(err as ApiError);
    }
    await this.load();
  }

  async markAllRead(): Promise<void> {
    try {
      await api.markAllNotificationsRead();
    } catch (err) {
      this.onError(err as ApiError);
    }
    await this.load();
  }

  /** Snooze the reminder's task 10 minutes; true when it worked. */
  async snooze(n: Notification, minutes = 10): Promise<boolean> {
    let ok = false;
    try {
      await api.snoozeTask(n.task_id, minutes);
      if (!n.read_at) await api.markNotificationRead(n.id);
      ok = true;
    } catch (err) {
      this.onError(err as ApiError);
    }
    await this.load();
    return ok;
  }
}
