// The list, its empty and error states, and paging.
import { useEffect, useState } from "react";

import type { Task } from "../api/types";
import { taskControl } from "../dom";
import { hasFilters, type BoardState, type TaskBoard } from "../tasks/board";
import { TaskRow, type RowActions } from "./TaskRow";

const TICK_MS = 30_000;

export function TaskList({
  board,
  state,
  visible,
  count,
  actions,
}: {
  board: TaskBoard;
  state: BoardState;
  visible: Task[];
  count: number;
  actions: RowActions;
}) {
  const [now, setNow] = useState(() => Date.now());
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), TICK_MS);
    return () => clearInterval(timer);
  }, []);

  const guarded: RowActions = {
    ...actions,
    onToggle: (task) => {
      setBusy((b) => new Set([...b, task.id]));
      void Promise.resolve(actions.onToggle(task)).finally(() =>
        setBusy((b) => new Set([...b].filter((id) => id !== task.id))),
      );
    },
  };

  if (state.load === "error" && state.tasks.length === 0) {
    return (
      <div className="empty error" role="alert" data-testid="list-error">
        <p>Your tasks couldn&apos;t be loaded. {state.error}</p>
        <button type="button" className="btn" data-testid="list-retry" onClick={() => void board.reload()}>
          Try again
        </button>
      </div>
    );
  }
  const more = count - visible.length;
  return (
    <>
      {state.load === "error" ? (
        <p className="form-error" role="alert" data-testid="list-error">
          The list may be out of date. {state.error}{" "}
          <button type="button" className="btn small" onClick={() => void board.reload({ keep: true })}>
            Try again
          </button>
        </p>
      ) : null}
      <ul className="task-list" data-testid="task-list" aria-label="Tasks" aria-busy={state.load === "loading" || undefined}>
        {visible.map((task) => (
          <TaskRow key={task.id} task={task} now={now} actions={guarded} busy={busy.has(task.id)} />
        ))}
      </ul>
      {state.load === "ready" && visible.length === 0 ? (
        <div className="empty" data-testid="list-empty">
          <p>
            {hasFilters(state.filters)
              ? "No tasks match these filters."
              : "No open tasks. Create one with “New task”."}
          </p>
        </div>
      ) : null}
      {more > 0 ? (
        <div className="pager">
          <button
            type="button"
            className="btn"
            data-testid="load-more"
            onClick={() =>
              void board.loadMore().then((first) => {
                if (first) taskControl(first.id)?.focus();
              })
            }
          >
            Load more ({more} more)
          </button>
        </div>
      ) : null}
    </>
  );
}
