// The task form's repeat rule.
import type { ReactNode } from "react";

import type { Weekday } from "../api/types";
import type { RepeatDraft } from "../tasks/draft";
import { UNITS, WEEKDAYS, WEEKDAY_LONG, WEEKDAY_SHORT, WORKWEEK, describeRule, ordinal } from "../tasks/recurrence";
import { zoneLabel } from "../time";

export function RepeatFields({
  repeat,
  zone,
  idPrefix,
  invalid,
  error,
  onChange,
}: {
  repeat: RepeatDraft;
  zone: string;
  idPrefix: string;
  invalid: ReadonlySet<string>;
  error: string | undefined;
  onChange: (next: RepeatDraft) => void;
}) {
  const set = (patch: Partial<RepeatDraft>): void => onChange({ ...repeat, ...patch });
  const p = (name: string): string => `${idPrefix}-${name}`;
  const errorId = p("error");
  const err = (key: string) =>
    invalid.has(key) ? ({ "aria-invalid": true, "aria-describedby": errorId } as const) : {};
  const freq = repeat.frequency;
  const unit = freq ? UNITS[freq] : UNITS.daily;
  const toggleDay = (day: Weekday): void => {
    const days = repeat.weekdays.includes(day)
      ? repeat.weekdays.filter((d) => d !== day)
      : WEEKDAYS.filter((d) => d === day || repeat.weekdays.includes(d));
    set({ weekdays: days });
  };

  if (repeat.custom) {
    return (
      <fieldset className="group">
        <legend>Repeat</legend>
        <p data-testid="recurrence-custom">{describeRule(repeat.custom, zone)}</p>
        <p className="hint">This rule was set outside this form and is kept as it is.</p>
        <button type="button" className="link" onClick={() => set({ custom: null })}>
          Replace it
        </button>
      </fieldset>
    );
  }

  return (
    <fieldset className="group">
      <legend>Repeat</legend>
      <div className="grid-2">
        <div className="field">
          <label htmlFor={p("frequency")}>Repeats</label>
          <select
            id={p("frequency")}
            data-testid="recurrence-frequency"
            value={freq}
            {...err("frequency")}
            onChange={(e) => set({ frequency: e.target.value as RepeatDraft["frequency"] })}
          >
            <option value="">Does not repeat</option>
            <option value="daily">Daily</option>
            <option value="weekly">Weekly</option>
            <option value="monthly">Monthly</option>
            <option value="yearly">Yearly</option>
          </select>
        </div>
        {freq ? (
          <div className="field">
            <label htmlFor={p("interval")}>Every</label>
            <div className="input-row">
              <input
                id={p("interval")}
                data-testid="recurrence-interval"
                type="number"
                min={1}
                max={1000}
                inputMode="numeric"
                className="narrow"
                value={repeat.interval}
                {...err("interval")}
                onChange={(e) => set({ interval: e.target.value })}
              />
              <span>{repeat.interval === "1" ? unit[0] : unit[1]}</span>
            </div>
          </div>
        ) : null}
      </div>
      {freq === "weekly" ? (
        <fieldset className="sub">
          <legend>On</legend>
          <div className="weekdays">
            {WEEKDAYS.map((day) => (
              <label key={day} className="chip">
                <input type="checkbox" checked={repeat.weekdays.includes(day)} onChange={() => toggleDay(day)} />
                <span>{WEEKDAY_SHORT[day]}</span>
              </label>
            ))}
          </div>
          <button
            type="button"
            className="link"
            data-testid="recurrence-workweek"
            onClick={() => set({ weekdays: [...WORKWEEK] })}
          >
            Every weekday (Mon–Fri)
          </button>
          <p className="hint">With no day checked, it repeats on the due date&apos;s weekday.</p>
        </fieldset>
      ) : null}
      {freq === "monthly" ? (
        <fieldset className="sub">
          <legend>On</legend>
          <Choice
            name={p("monthly")}
            id={p("mode-day")}
            checked={repeat.monthlyMode === "day"}
            label="Day"
            onSelect={() => set({ monthlyMode: "day" })}
          >
            <select
              aria-label="Day of the month"
              value={repeat.monthDay}
              {...err("month_day")}
              onFocus={() => set({ monthlyMode: "day" })}
              onChange={(e) => set({ monthDay: e.target.value, monthlyMode: "day" })}
            >
              <option value="">same as the due date</option>
              {Array.from({ length: 31 }, (_, i) => (
                <option key={i + 1} value={String(i + 1)}>
                  {ordinal(i + 1)}
                </option>
              ))}
              <option value="-1">last day</option>
            </select>
          </Choice>
          {repeat.monthlyMode === "day" && Number(repeat.monthDay) > 28 ? (
            <label className="check">
              <input
                type="checkbox"
                data-testid="recurrence-last-day"
                checked={repeat.lastDay}
                onChange={(e) => set({ lastDay: e.target.checked })}
              />
              <span>In shorter months, on their last day (otherwise those months are skipped)</span>
            </label>
          ) : null}
          <Choice
            name={p("monthly")}
            id={p("mode-nth")}
            checked={repeat.monthlyMode === "nth"}
            label="The"
            onSelect={() => set({ monthlyMode: "nth" })}
          >
            <select
              aria-label="Which week of the month"
              value={repeat.nthOrdinal}
              onChange={(e) => set({ nthOrdinal: e.target.value, monthlyMode: "nth" })}
            >
              <option value="1">first</option>
              <option value="2">second</option>
              <option value="3">third</option>
              <option value="4">fourth</option>
              <option value="5">fifth</option>
              <option value="-1">last</option>
              <option value="-2">second to last</option>
            </select>
            <select
              aria-label="Weekday"
              value={repeat.nthWeekday}
              onChange={(e) => set({ nthWeekday: e.target.value as Weekday, monthlyMode: "nth" })}
            >
              {WEEKDAYS.map((day) => (
                <option key={day} value={day}>
                  {WEEKDAY_LONG[day]}
                </option>
              ))}
            </select>
          </Choice>
        </fieldset>
      ) : null}
      {freq ? (
        <>
          <fieldset className="sub">
            <legend>Ends</legend>
            <Choice
              name={p("end")}
              id={p("end-never")}
              checked={repeat.end === "never"}
              label="Never"
              onSelect={() => set({ end: "never" })}
            />
            <Choice
              name={p("end")}
              id={p("end-count")}
              checked={repeat.end === "count"}
              label="After"
              onSelect={() => set({ end: "count" })}
            >
              <input
                data-testid="recurrence-count"
                type="number"
                min={1}
                max={10000}
                inputMode="numeric"
                className="narrow"
                aria-label="Number of times"
                value={repeat.count}
                {...err("count")}
                onFocus={() => set({ end: "count" })}
                onChange={(e) => set({ count: e.target.value, end: "count" })}
              />
              <span aria-hidden="true">times</span>
            </Choice>
            <Choice
              name={p("end")}
              id={p("end-until")}
              checked={repeat.end === "until"}
              label="On"
              onSelect={() => set({ end: "until" })}
            >
              <input
                data-testid="recurrence-until"
                type="date"
                aria-label={`Last day (${zoneLabel(zone)} time)`}
                value={repeat.until}
                {...err("until")}
                onFocus={() => set({ end: "until" })}
                onChange={(e) => set({ until: e.target.value, end: "until" })}
              />
            </Choice>
          </fieldset>
          <fieldset className="sub">
            <legend>Next due date counts from</legend>
            <Choice
              name={p("basis")}
              id={p("basis-due")}
              checked={repeat.basis === "due"}
              label="the due date"
              onSelect={() => set({ basis: "due" })}
            />
            <Choice
              name={p("basis")}
              id={p("basis-completion")}
              checked={repeat.basis === "completion"}
              label="when I complete it"
              onSelect={() => set({ basis: "completion" })}
            />
          </fieldset>
        </>
      ) : null}
      {error ? (
        <p className="field-error" id={errorId} data-testid="recurrence-error">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/** A radio button with its label, and the control it chooses (if any) beside it. */
function Choice({
  name,
  id,
  checked,
  label,
  onSelect,
  children,
}: {
  name: string;
  id: string;
  checked: boolean;
  label: string;
  onSelect: () => void;
  children?: ReactNode;
}) {
  return (
    <div className="choice">
      <input type="radio" name={name} id={id} checked={checked} onChange={onSelect} />
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}
