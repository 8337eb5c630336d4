// The task form's reminders: N minutes before the due time, or at a wall time in the
// task's zone.
import { useRef } from "react";

import { MAX_REMINDERS, newReminder, type ReminderDraft } from "../tasks/draft";
import { formatMinutes, zoneLabel } from "../time";
import { Icon } from "./Icon";

export function ReminderFields({
  reminders,
  zone,
  errors,
  groupError,
  onChange,
}: {
  reminders: ReminderDraft[];
  zone: string;
  errors: Record<number, string>;
  groupError: string | undefined;
  onChange: (next: ReminderDraft[]) => void;
}) {
  const list = useRef<HTMLUListElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);

  const update = (index: number, patch: Partial<ReminderDraft>): void => {
    onChange(reminders.map((r, i) => (i === index ? { ...r, ...patch } : r)));
  };
  const focusRow = (index: number, selector: string): void => {
    requestAnimationFrame(() => {
      list.current?.children[index]?.querySelector<HTMLElement>(selector)?.focus();
    });
  };

  return (
    <fieldset className="group">
      <legend>Reminders</legend>
      <ul className="reminder-list" ref={list}>
        {reminders.map((r, index) => {
          const minutes = Number(r.minutes);
          const errorId = `${r.key}-error`;
          return (
            <li className="reminder-row" key={r.key} data-kind={r.kind}>
              <label className="sr-only" htmlFor={`${r.key}-kind`}>
                Reminder type
              </label>
              <select
                id={`${r.key}-kind`}
                className="rem-kind"
                data-testid="reminder-kind"
                value={r.kind}
                onChange={(e) => {
                  const kind = e.target.value as ReminderDraft["kind"];
                  update(index, { kind });
                  focusRow(index, kind === "absolute" ? ".rem-at" : ".rem-minutes");
                }}
              >
                <option value="before_due">Before due</option>
                <option value="absolute">At a time</option>
              </select>
              {r.kind === "before_due" ? (
                <span className="rem-before">
                  <label className="sr-only" htmlFor={`${r.key}-minutes`}>
                    Minutes before due
                  </label>
                  <input
                    id={`${r.key}-minutes`}
                    className="rem-minutes"
                    data-testid="reminder-minutes"
                    type="number"
                    min={0}
                    max={60 * 24 * 366}
                    step={1}
                    inputMode="numeric"
                    value={r.minutes}
                    aria-invalid={errors[index] ? true : undefined}
                    aria-describedby={errors[index] ? errorId : undefined}
                    onChange={(e) => update(index, { minutes: e.target.value })}
                  />
                  <span aria-hidden="true">min before due</span>
                  {minutes >= 60 ? <span className="hint">({formatMinutes(minutes)})</span> : null}
                </span>
              ) : (
                <span className="rem-abs">
                  <label className="sr-only" htmlFor={`${r.key}-at`}>
                    Remind at ({zoneLabel(zone)} time)
                  </label>
                  <input
                    id={`${r.key}-at`}
                    className="rem-at"
                    data-testid="reminder-at"
                    type="datetime-local"
                    value={r.at}
                    aria-invalid={errors[index] ? true : undefined}
                    aria-describedby={errors[index] ? errorId : undefined}
                    onChange={(e) => update(index, { at: e.target.value })}
                  />
                </span>
              )}
              <button
                type="button"
                className="icon-btn"
                aria-label="Remove reminder"
                data-testid="reminder-remove"
                onClick={() => {
                  onChange(reminders.filter((_, i) => i !== index));
                  if (reminders.length > 1) focusRow(Math.min(index, reminders.length - 2), "select");
                  else addButton.current?.focus();
                }}
              >
                <Icon name="x" />
              </button>
              {errors[index] ? (
                <p className="field-error" id={errorId}>
                  {errors[index]}
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
      {groupError ? <p className="field-error">{groupError}</p> : null}
      <button
        ref={addButton}
        type="button"
        className="btn small ghost"
        data-testid="reminder-add"
        disabled={reminders.length >= MAX_REMINDERS}
        onClick={() => {
          onChange([...reminders, newReminder()]);
          focusRow(reminders.length, ".rem-minutes");
        }}
      >
        <Icon name="plus" /> Add reminder
      </button>
    </fieldset>
  );
}
