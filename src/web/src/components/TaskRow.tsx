// One task in the list: <li data-testid="task-row" data-task-id data-status>.
import type { Task } from "../api/types";
import { describeRule } from "../tasks/recurrence";
import { browserTimeZone, formatDateTime, formatFull, relative, zoneLabel } from "../time";
import { Icon } from "./Icon";

const PRIORITY_LABEL = { low: "Low", medium: "Medium", high: "High", urgent: "Urgent" } as const;

export function isOverdue(task: Task, now: number): boolean {
  return task.status === "open" && !!task.due_at && new Date(task.due_at).getTime() < now;
}

/** "in 5 min", "overdue, 3 h ago", "due now". */
export function dueRelative(task: Task, now: number): string {
  if (!task.due_at) return "";
  const rel = relative(task.due_at, now);
  if (task.status === "completed") return rel;
  if (isOverdue(task, now)) return rel === "now" ? "overdue" : `overdue, ${rel}`;
  return rel === "now" ? "due now" : rel;
}

export interface RowActions {
  onToggle: (task: Task) => void | Promise<void>;
  onEdit: (task: Task, opener: HTMLElement) => void;
  onDelete: (task: Task) => void;
  onTag: (tag: string) => void;
}

export function TaskRow({ task, now, actions, busy }: { task: Task; now: number; actions: RowActions; busy: boolean }) {
  const done = task.status === "completed";
  const overdue = isOverdue(task, now);
  const local = browserTimeZone();
  const rule = task.recurrence ? describeRule(task.recurrence, task.time_zone) : task.recurrence_text;
  const snoozed = !!task.snoozed_until && task.snoozed_until === task.next_reminder_at;

  return (
    <li
      className={`task-row prio-${task.priority}${done ? " is-done" : ""}${overdue ? " is-overdue" : ""}`}
      data-testid="task-row"
      data-task-id={task.id}
      data-status={task.status}
    >
      <div className="task-check-wrap">
        <input
          type="checkbox"
          className="task-check"
          data-testid="task-complete"
          data-role="toggle"
          checked={done}
          disabled={busy}
          aria-label={done ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
          onChange={() => actions.onToggle(task)}
        />
      </div>
      <div className="task-body">
        <div className="task-line">
          <span className="task-title" data-testid="task-row-title">
            {task.title}
          </span>
          <span className={`badge prio prio-${task.priority}`}>
            <span className="sr-only">Priority: </span>
            {PRIORITY_LABEL[task.priority]}
          </span>
          {overdue ? <span className="badge overdue">Overdue</span> : null}
          {done ? <span className="sr-only">(completed)</span> : null}
        </div>
        {task.notes ? <p className="task-notes">{task.notes}</p> : null}
        <ul className="task-meta" aria-label="Details">
          {task.due_at ? (
            <li className="meta-due" title={formatFull(task.due_at, task.time_zone) + ` (${zoneLabel(task.time_zone)} time)`}>
              <Icon name="calendar" />
              <span className="sr-only">Due </span>
              <time dateTime={task.due_at} data-testid="task-due-text">
                {formatDateTime(task.due_at)}
              </time>
              {task.time_zone !== local ? (
                <span className="zone" data-testid="task-due-zone">
                  ({formatDateTime(task.due_at, task.time_zone)} {zoneLabel(task.time_zone)})
                </span>
              ) : null}
              <span className="rel">{dueRelative(task, now)}</span>
            </li>
          ) : null}
          {rule ? (
            <li className="meta-rec" title={`Occurrence ${task.occurrence_number} of this series`} data-testid="task-repeat">
              <Icon name="repeat" />
              <span className="sr-only">Repeats: </span>
              {rule}
            </li>
          ) : null}
          {!done && task.next_reminder_at ? (
            <li className="meta-rem" title={formatFull(task.next_reminder_at)}>
              <Icon name="bell" />
              <span className="sr-only">{snoozed ? "Snoozed until " : "Next reminder "}</span>
              {snoozed ? <span aria-hidden="true">Snoozed · </span> : null}
              <time dateTime={task.next_reminder_at}>{formatDateTime(task.next_reminder_at)}</time>
            </li>
          ) : null}
          {task.tags.length ? (
            <li className="meta-tags">
              {task.tags.map((tag) => (
                <button
                  key={tag}
                  type="button"
                  className="tag"
                  aria-label={`#${tag}: show tasks tagged ${tag}`}
                  onClick={() => actions.onTag(tag)}
                >
                  #{tag}
                </button>
              ))}
            </li>
          ) : null}
        </ul>
      </div>
      <div className="task-actions">
        <button
          type="button"
          className="btn ghost small"
          data-testid="task-edit"
          data-role="edit"
          aria-label={`Edit “${task.title}”`}
          onClick={(e) => actions.onEdit(task, e.currentTarget)}
        >
          <Icon name="edit" />
          <span className="btn-text">Edit</span>
        </button>
        <button
          type="button"
          className="btn ghost small danger-text"
          data-testid="task-delete"
          data-role="delete"
          aria-label={`Delete “${task.title}”`}
          onClick={() => actions.onDelete(task)}
        >
          <Icon name="trash" />
          <span className="btn-text">Delete</span>
        </button>
      </div>
    </li>
  );
}
