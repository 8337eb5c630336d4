// Create or edit a task in a modal <dialog>: sends only what changed, reads every wall time
// in the chosen time zone, and shows each problem beside its field in the app's words.
import { useEffect, useId, useMemo, useRef, useState } from "react";

import { api } from "../api/client";
import { ApiError, type FieldError } from "../api/errors";
import type { Task } from "../api/types";
import { useStore } from "../store";
import type { TaskBoard } from "../tasks/board";
import {
  changes,
  draftFromTask,
  draftProblems,
  payloadFromDraft,
  type TaskDraft,
} from "../tasks/draft";
import { allTimeZones, browserTimeZone, zoneLabel } from "../time";
import { Icon } from "./Icon";
import { ReminderFields } from "./ReminderFields";
import { RepeatFields } from "./RepeatFields";
import { FieldMessage } from "./SignIn";

const FIELD_OF_DRAFT: Partial<Record<keyof TaskDraft, string>> = {
  due: "due_at",
  zone: "time_zone",
  repeat: "recurrence",
};

interface Banner {
  message: string;
  offerReload: boolean;
}

export interface TaskDialogProps {
  task: Task | null;
  /** The list, whose live changes tell an open editor that its task changed elsewhere. */
  board: TaskBoard;
  onClose: () => void;
  onSaved: (task: Task, created: boolean) => void;
}

export function TaskDialog({ task: initialTask, board, onClose, onSaved }: TaskDialogProps) {
  const { lastChange } = useStore(board);
  const [seenChange] = useState(lastChange.seq);
  const id = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const title = useRef<HTMLInputElement>(null);
  const bannerRef = useRef<HTMLDivElement>(null);
  const [task, setTask] = useState(initialTask);
  const [draft, setDraft] = useState<TaskDraft>(() => draftFromTask(initialTask, browserTimeZone()));
  const [initial, setInitial] = useState(() => payloadFromDraft(draft));
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [banner, setBanner] = useState<Banner | null>(null);
  const [saving, setSaving] = useState(false);
  const zones = useMemo(() => {
    const all = allTimeZones();
    return all.includes(draft.zone) ? all : [...all, draft.zone].sort();
  }, [draft.zone]);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    title.current?.focus();
    return () => element?.close();
  }, []);

  useEffect(() => {
    if (banner) (banner.offerReload ? bannerRef.current?.querySelector("button") : bannerRef.current)?.focus();
  }, [banner]);

  const fill = (next: Task | null): void => {
    const fresh = draftFromTask(next, browserTimeZone());
    setTask(next);
    setDraft(fresh);
    setInitial(payloadFromDraft(fresh));
    setErrors([]);
    setBanner(null);
  };

  // A change made elsewhere: take it silently while nothing was edited, else warn.
  useEffect(() => {
    if (!task || lastChange.seq === seenChange || lastChange.taskId !== task.id) return;
    let cancelled = false;
    api.getTask(task.id).then(
      (latest) => {
        if (cancelled || latest.version === task.version) return;
        if (JSON.stringify(payloadFromDraft(draft)) === JSON.stringify(initial)) fill(latest);
        else
          setBanner({
            message:
              "This task was changed somewhere else while you were editing. Reload it to see the changes (your edits here will be lost).",
            offerReload: true,
          });
      },
      (err: unknown) => {
        if (!cancelled && err instanceof ApiError && err.code === "not_found") {
          setBanner({ message: "This task was deleted somewhere else.", offerReload: false });
        }
      },
    );
    return () => {
      cancelled = true;
    };
    // Only a new change starts a check; the draft is read as it is then.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [lastChange]);

  // Editing a field clears its errors (a focus that changes nothing keeps them).
  const update = (patch: Partial<TaskDraft>): void => {
    const changed = (Object.keys(patch) as (keyof TaskDraft)[]).filter(
      (k) => JSON.stringify(patch[k]) !== JSON.stringify(draft[k]),
    );
    if (!changed.length) return;
    setDraft({ ...draft, ...patch });
    const fields = changed.map((k) => FIELD_OF_DRAFT[k] ?? k);
    setErrors(errors.filter((e) => !fields.includes(e.field)));
  };

  const showErrors = (found: FieldError[]): void => {
    setErrors(found);
    requestAnimationFrame(() => {
      dialog.current?.querySelector<HTMLElement>("[aria-invalid='true']")?.focus();
    });
  };

  const save = async (): Promise<void> => {
    if (saving) return;
    setBanner(null);
    const payload = payloadFromDraft(draft);
    const problems = draftProblems(draft, payload);
    if (problems.length) return showErrors(problems);
    const body = task ? changes(payload, initial) : payload;
    if (task && Object.keys(body).length === 0) return onClose();
    setSaving(true);
    try {
      const saved = task ? await api.updateTask(task.id, body, task.version) : await api.createTask(payload);
      onSaved(saved, !task);
    } catch (err) {
      const failure = err instanceof ApiError ? err : null;
      if (failure?.fieldErrors.length) showErrors(failure.fieldErrors);
      else
        setBanner({
          message: failure?.message ?? String(err),
          offerReload: !!task && failure?.code === "version_conflict",
        });
      setSaving(false);
    }
  };

  const reload = async (): Promise<void> => {
    if (!task) return;
    try {
      fill(await api.getTask(task.id));
      title.current?.focus();
    } catch (err) {
      setBanner({ message: err instanceof ApiError ? err.message : String(err), offerReload: false });
    }
  };

  const errorOf = (field: string): string | undefined =>
    errors.filter((e) => e.field === field && e.path.length === 0).map((e) => e.message).join(" ") || undefined;
  const reminderErrors: Record<number, string> = {};
  for (const e of errors) {
    if (e.field === "reminders" && typeof e.path[0] === "number") reminderErrors[e.path[0]] = e.message;
  }
  const recurrenceErrors = errors.filter((e) => e.field === "recurrence");
  const recurrenceInvalid = new Set(
    recurrenceErrors.map((e) => (typeof e.path[0] === "string" ? e.path[0] : "frequency")),
  );
  const placed = new Set(["title", "notes", "priority", "tags", "due_at", "time_zone", "reminders", "recurrence"]);
  const unplaced = errors.filter((e) => !placed.has(e.field));
  const invalid = (field: string) =>
    errorOf(field) ? ({ "aria-invalid": true, "aria-describedby": `${id}-${field}-error` } as const) : {};

  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby={`${id}-title`}
      data-testid="task-dialog"
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <form
        noValidate
        aria-busy={saving || undefined}
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <header className="dialog-head">
          <h2 id={`${id}-title`}>{task ? "Edit task" : "New task"}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            <Icon name="x" />
          </button>
        </header>
        <div className="dialog-body">
          {banner || unplaced.length ? (
            <div className="form-error" role="alert" tabIndex={-1} ref={bannerRef} data-testid="task-form-error">
              <p>{banner?.message ?? unplaced.map((e) => e.message).join(" ")}</p>
              {banner?.offerReload ? (
                <button type="button" className="btn small" data-testid="task-reload" onClick={() => void reload()}>
                  Reload task
                </button>
              ) : null}
            </div>
          ) : null}
          <div className="field">
            <label htmlFor={`${id}-title-input`}>Title</label>
            <input
              ref={title}
              id={`${id}-title-input`}
              data-testid="task-title"
              required
              maxLength={200}
              autoComplete="off"
              value={draft.title}
              {...invalid("title")}
              onChange={(e) => update({ title: e.target.value })}
            />
            <FieldMessage id={`${id}-title-error`} text={errorOf("title")} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-notes`}>
              Notes <span className="optional">(optional)</span>
            </label>
            <textarea
              id={`${id}-notes`}
              data-testid="task-notes"
              rows={3}
              maxLength={10000}
              value={draft.notes}
              {...invalid("notes")}
              onChange={(e) => update({ notes: e.target.value })}
            />
            <FieldMessage id={`${id}-notes-error`} text={errorOf("notes")} />
          </div>
          <div className="grid-2">
            <div className="field">
              <label htmlFor={`${id}-priority`}>Priority</label>
              <select
                id={`${id}-priority`}
                data-testid="task-priority"
                value={draft.priority}
                onChange={(e) => update({ priority: e.target.value as TaskDraft["priority"] })}
              >
                <option value="low">Low</option>
                <option value="medium">Medium</option>
                <option value="high">High</option>
                <option value="urgent">Urgent</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-tags`}>
                Tags <span className="optional">(optional)</span>
              </label>
              <input
                id={`${id}-tags`}
                data-testid="task-tags"
                autoComplete="off"
                placeholder="work, errands"
                value={draft.tags}
                aria-describedby={`${id}-tags-hint${errorOf("tags") ? ` ${id}-tags-error` : ""}`}
                aria-invalid={errorOf("tags") ? true : undefined}
                onChange={(e) => update({ tags: e.target.value })}
              />
              <p className="hint" id={`${id}-tags-hint`}>
                Separate tags with commas.
              </p>
              <FieldMessage id={`${id}-tags-error`} text={errorOf("tags")} />
            </div>
          </div>
          <div className="grid-2 grid-due">
            <div className="field">
              <label htmlFor={`${id}-due`}>
                Due <span className="optional">(optional)</span>
              </label>
              <div className="input-row">
                <input
                  id={`${id}-due`}
                  data-testid="task-due"
                  type="datetime-local"
                  value={draft.due}
                  aria-describedby={`${id}-due-hint${errorOf("due_at") ? ` ${id}-due_at-error` : ""}`}
                  aria-invalid={errorOf("due_at") ? true : undefined}
                  onChange={(e) => update({ due: e.target.value })}
                />
                <button
                  type="button"
                  className="icon-btn"
                  aria-label="Clear due date"
                  title="Clear due date"
                  onClick={() => update({ due: "" })}
                >
                  <Icon name="x" />
                </button>
              </div>
              <p className="hint" id={`${id}-due-hint`} data-testid="task-due-hint">
                In {zoneLabel(draft.zone)} time.
              </p>
              <FieldMessage id={`${id}-due_at-error`} text={errorOf("due_at")} />
            </div>
            <div className="field">
              <label htmlFor={`${id}-zone`}>Time zone</label>
              <select
                id={`${id}-zone`}
                data-testid="task-timezone"
                value={draft.zone}
                aria-describedby={`${id}-zone-hint`}
                onChange={(e) => update({ zone: e.target.value })}
              >
                {zones.map((zone) => (
                  <option key={zone} value={zone}>
                    {zone.replaceAll("_", " ")}
                  </option>
                ))}
              </select>
              <p className="hint" id={`${id}-zone-hint`}>
                Times here are read in this zone; repeats keep their time of day in it.
              </p>
              <FieldMessage id={`${id}-time_zone-error`} text={errorOf("time_zone")} />
            </div>
          </div>
          <ReminderFields
            reminders={draft.reminders}
            zone={draft.zone}
            errors={reminderErrors}
            groupError={errorOf("reminders")}
            onChange={(reminders) => update({ reminders })}
          />
          <RepeatFields
            repeat={draft.repeat}
            zone={draft.zone}
            idPrefix={`${id}-rec`}
            invalid={recurrenceInvalid}
            error={recurrenceErrors.map((e) => e.message).join(" ") || undefined}
            onChange={(repeat) => update({ repeat })}
          />
        </div>
        <footer className="dialog-foot">
          <button type="button" className="btn ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" data-testid="task-save" disabled={saving}>
            {task ? "Save changes" : "Create task"}
          </button>
        </footer>
      </form>
    </dialog>
  );
}
