// The signed-in app: top bar, the task list and its actions, the task dialog, live updates.
import { useCallback, useEffect, useRef, useState } from "react";

import { api, STREAM_URL } from "../api/client";
import type { ApiError } from "../api/errors";
import { LiveStream, type LiveState, type StreamEvent } from "../api/live";
import { endSession, signOut as endServerSession, updateUser, type Session } from "../api/session";
import type { Notification, Task } from "../api/types";
import { Notifications, canSnooze } from "../notifications/store";
import { taskControl } from "../dom";
import { useStore } from "../store";
import { TaskBoard } from "../tasks/board";
import { PendingDeletes } from "../tasks/pendingDeletes";
import logoUrl from "../favicon.svg";
import { Filters } from "./Filters";
import { Icon } from "./Icon";
import { NotificationsBell } from "./NotificationsBell";
import { TaskDialog } from "./TaskDialog";
import { TaskList } from "./TaskList";
import { useToasts } from "./Toasts";

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline",
};

interface Editing {
  task: Task | null;
  opener: HTMLElement | null;
}

export function TaskApp({ session }: { session: Session }) {
  const toasts = useToasts();
  const heading = useRef<HTMLHeadingElement>(null);
  const newTaskButton = useRef<HTMLButtonElement>(null);
  const [board] = useState(() => new TaskBoard());
  const [notifications] = useState(() => new Notifications());
  const [deletes] = useState(() => new PendingDeletes(board));
  const [liveState, setLiveState] = useState<LiveState>("connecting");
  const [editing, setEditing] = useState<Editing | null>(null);

  const reportError = useCallback(
    (err: ApiError) => {
      if (err.code === "unauthorized") return; // the session ends and says so
      toasts.show({ title: "That didn't work", message: err.message, tone: "error", timeoutMs: 8000 });
    },
    [toasts],
  );

  const announce = useCallback(
    (fresh: Notification[]) => {
      for (const n of fresh) {
        toasts.show({
          title: n.kind === "reminder" ? "Reminder" : "Notification",
          message: n.title,
          tone: "reminder",
          timeoutMs: 15_000,
          actions: [
            ...(canSnooze(n)
              ? [
                  {
                    label: "Snooze 10 min",
                    name: `Snooze 10 min: ${n.title}`,
                    onClick: async () => {
                      if (await notifications.snooze(n)) {
                        toasts.show({ title: "Snoozed", message: `“${n.title}” will remind you again in 10 minutes.` });
                      }
                    },
                  },
                ]
              : []),
            { label: "Mark read", name: `Mark read: ${n.title}`, onClick: () => notifications.markRead(n) },
          ],
        });
      }
    },
    [toasts, notifications],
  );

  useEffect(() => notifications.listen({ fresh: announce, error: reportError }), [notifications, announce, reportError]);

  // Live updates, the first load, and what a reconnect must catch up on.
  useEffect(() => {
    let connectedBefore = false;
    void board.reload();
    void notifications.load();
    const onEvent = (event: StreamEvent): void => {
      if (event.event === "ready") {
        // A reconnect, or a first load that failed: catch up on what was missed.
        if (connectedBefore || board.getSnapshot().load !== "ready") {
          board.scheduleRefresh(0);
          void notifications.load();
        }
        connectedBefore = true;
        return;
      }
      if (event.event !== "refresh") return;
      let change: { kind?: string; task_id?: string | null } = {};
      try {
        change = (JSON.parse(event.data) as { data?: typeof change }).data ?? {};
      } catch {
        return;
      }
      if (change.kind === "notification") void notifications.load();
      board.changedElsewhere(change.task_id ?? null);
    };
    const stream = new LiveStream({
      url: STREAM_URL,
      onEvent,
      onState: setLiveState,
      onUnauthorized: () => endSession("expired"),
    });
    stream.start();
    heading.current?.focus();
    api.me().then(updateUser, () => {});
    const commitOnLeave = (): void => void deletes.commitAll(true);
    window.addEventListener("pagehide", commitOnLeave);
    return () => {
      window.removeEventListener("pagehide", commitOnLeave);
      stream.stop();
      board.dispose();
    };
  }, [board, notifications, deletes]);

  const openDialog = useCallback((task: Task | null, opener: HTMLElement | null) => {
    setEditing({ task, opener });
  }, []);

  // "n" opens a new task, "/" jumps to search (not while typing or with a dialog open).
  useEffect(() => {
    if (editing) return;
    const onKey = (event: KeyboardEvent): void => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement;
      if (target.closest("input, textarea, select, [contenteditable]")) return;
      if (event.key === "n") {
        event.preventDefault();
        openDialog(null, newTaskButton.current);
      } else if (event.key === "/") {
        event.preventDefault();
        document.querySelector<HTMLElement>('[data-testid="search"]')?.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [editing, openDialog]);

  /** Where focus goes when the row at `index` left the list. */
  const focusAfter = (index: number): HTMLElement | null => {
    const rows = document.querySelectorAll<HTMLElement>('[data-testid="task-row"] [data-role="toggle"]');
    return rows[Math.min(index, rows.length - 1)] ?? heading.current;
  };

  const toggle = async (task: Task): Promise<void> => {
    const completing = task.status !== "completed";
    const index = board.visible().findIndex((t) => t.id === task.id);
    try {
      const updated = completing ? await api.completeTask(task.id) : await api.reopenTask(task.id);
      board.apply(updated);
      if (completing) {
        toasts.show({
          message: task.recurrence
            ? `Completed “${task.title}”. The next one is on its way.`
            : `Completed “${task.title}”.`,
          actions: [
            {
              label: "Undo",
              name: `Undo: reopen “${task.title}”`,
              onClick: async () => {
                try {
                  await api.reopenTask(task.id);
                } catch (err) {
                  reportError(err as ApiError);
                }
                await board.reload({ keep: true });
                (taskControl(task.id) ?? focusAfter(index))?.focus();
              },
            },
          ],
          focusAction: true,
          returnFocus: () => taskControl(task.id) ?? focusAfter(index),
        });
      }
    } catch (err) {
      reportError(err as ApiError);
    }
    board.scheduleRefresh();
  };

  const remove = (task: Task): void => {
    const index = board.visible().findIndex((t) => t.id === task.id);
    deletes.stage(task);
    toasts.show({
      message: `Deleted “${task.title}”.`,
      actions: [
        {
          label: "Undo",
          name: `Undo: restore “${task.title}”`,
          onClick: () => {
            deletes.cancel(task.id);
            requestAnimationFrame(() => (taskControl(task.id, "delete") ?? focusAfter(index))?.focus());
          },
        },
      ],
      focusAction: true,
      returnFocus: () => focusAfter(index),
      onClose: (reason) => {
        if (reason !== "action") void deletes.commit(task.id).then((err) => err && reportError(err));
      },
    });
  };

  const signOut = async (): Promise<void> => {
    toasts.closeAll();
    await deletes.commitAll(false);
    await endServerSession();
  };

  const name = session.user.display_name || session.user.email;
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to tasks
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <p className="brand">
            <img src={logoUrl} alt="" width="28" height="28" />
            <span className="brand-name">Todo Cloud</span>
          </p>
          <span
            className="live-status"
            data-testid="live-status"
            data-state={liveState}
            aria-live="polite"
            title={liveState === "live" ? "Live updates are on" : "Live updates are paused; the page reconnects by itself"}
          >
            {LIVE_TEXT[liveState]}
          </span>
          <div className="topbar-actions">
            <NotificationsBell store={notifications} />
            <span className="user-name" title={session.user.email}>
              {name}
            </span>
            <button
              type="button"
              className="btn ghost small"
              data-testid="sign-out"
              aria-label="Sign out"
              onClick={() => void signOut()}
            >
              <Icon name="out" />
              <span className="btn-text">Sign out</span>
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="main">
        <Board
          board={board}
          headingRef={heading}
          newTaskRef={newTaskButton}
          onNew={(opener) => openDialog(null, opener)}
          actions={{
            onToggle: toggle,
            onEdit: (task, opener) => openDialog(task, opener),
            onDelete: remove,
            onTag: (tag) => void board.setFilters({ tag }),
          }}
        />
      </main>
      {editing ? (
        <TaskDialog
          key={editing.task?.id ?? "new"}
          task={editing.task}
          board={board}
          onClose={() => {
            const opener = editing.opener;
            setEditing(null);
            requestAnimationFrame(() => (opener?.isConnected ? opener : newTaskButton.current)?.focus());
          }}
          onSaved={(saved, created) => {
            setEditing(null);
            board.scheduleRefresh(0);
            toasts.show({ message: created ? `Created “${saved.title}”.` : `Saved “${saved.title}”.` });
            requestAnimationFrame(() =>
              (taskControl(saved.id, created ? "toggle" : "edit") ?? newTaskButton.current)?.focus(),
            );
          }}
        />
      ) : null}
    </div>
  );
}

function Board({
  board,
  headingRef,
  newTaskRef,
  onNew,
  actions,
}: {
  board: TaskBoard;
  headingRef: React.RefObject<HTMLHeadingElement | null>;
  newTaskRef: React.RefObject<HTMLButtonElement | null>;
  onNew: (opener: HTMLElement) => void;
  actions: React.ComponentProps<typeof TaskList>["actions"];
}) {
  const state = useStore(board);
  const visible = state.tasks.filter((t) => !state.hidden.has(t.id));
  const count = state.count - (state.tasks.length - visible.length);
  return (
    <>
      <div className="page-head">
        <h1 ref={headingRef} tabIndex={-1}>
          Tasks
        </h1>
        <p className="summary" aria-live="polite" data-testid="list-summary">
          {count > 0 ? `${visible.length} of ${count} ${count === 1 ? "task" : "tasks"}` : ""}
        </p>
        <button
          ref={newTaskRef}
          type="button"
          className="btn primary"
          data-testid="new-task"
          aria-keyshortcuts="n"
          onClick={(e) => onNew(e.currentTarget)}
        >
          <Icon name="plus" /> New task
        </button>
      </div>
      <Filters filters={state.filters} knownTags={state.knownTags} onChange={(patch) => void board.setFilters(patch)} />
      <TaskList board={board} state={state} visible={visible} count={count} actions={actions} />
    </>
  );
}
