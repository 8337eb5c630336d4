// Search, filters and sort. On a phone only the search field and a "Filters" button show,
// so that the first screen is the list, not the form.
import { useEffect, useId, useRef, useState } from "react";

import type { Priority } from "../api/types";
import { DEFAULT_FILTERS, SORTS, hasFilters, type Filters as FilterValues } from "../tasks/board";
import { Icon } from "./Icon";

const DEBOUNCE_MS = 300;

export function Filters({
  filters,
  knownTags,
  onChange,
}: {
  filters: FilterValues;
  knownTags: readonly string[];
  onChange: (patch: Partial<FilterValues>) => void;
}) {
  const id = useId();
  const [expanded, setExpanded] = useState(false);
  // What is being typed, until the debounced change lands in `filters`.
  const [typing, setTyping] = useState<{ q?: string; tag?: string }>({});
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const search = useRef<HTMLInputElement>(null);
  const q = typing.q ?? filters.q;
  const tag = typing.tag ?? filters.tag;

  useEffect(() => () => clearTimeout(timer.current), []);

  const typed = (patch: { q?: string; tag?: string }): void => {
    const next = { ...typing, ...patch };
    setTyping(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      setTyping({});
      onChange(next);
    }, DEBOUNCE_MS);
  };
  const active = [
    filters.status !== DEFAULT_FILTERS.status,
    Boolean(filters.priority),
    Boolean(filters.tag.trim()),
    filters.overdue,
  ].filter(Boolean).length;

  return (
    <form
      className={`filters${expanded ? "" : " is-collapsed"}`}
      role="search"
      aria-label="Find tasks"
      onSubmit={(event) => {
        event.preventDefault();
        clearTimeout(timer.current);
        setTyping({});
        onChange({ q, tag });
      }}
    >
      <div className="field search-field">
        <label htmlFor={`${id}-q`} className="sr-only">
          Search tasks
        </label>
        <Icon name="search" />
        <input
          ref={search}
          id={`${id}-q`}
          data-testid="search"
          type="search"
          placeholder="Search tasks…"
          maxLength={200}
          autoComplete="off"
          aria-keyshortcuts="/"
          value={q}
          onChange={(e) => typed({ q: e.target.value })}
        />
      </div>
      <button
        type="button"
        className="btn filters-toggle"
        data-testid="filters-toggle"
        aria-expanded={expanded}
        aria-controls={`${id}-more`}
        onClick={() => setExpanded(!expanded)}
      >
        <Icon name="filter" /> Filters{active ? ` (${active})` : ""}
      </button>
      <div className="filters-more" id={`${id}-more`}>
        <div className="field">
          <label htmlFor={`${id}-status`}>Status</label>
          <select
            id={`${id}-status`}
            data-testid="filter-status"
            value={filters.status}
            onChange={(e) => onChange({ status: e.target.value as FilterValues["status"] })}
          >
            <option value="open">Open</option>
            <option value="completed">Completed</option>
            <option value="">All</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-priority`}>Priority</label>
          <select
            id={`${id}-priority`}
            data-testid="filter-priority"
            value={filters.priority}
            onChange={(e) => onChange({ priority: e.target.value as Priority | "" })}
          >
            <option value="">Any</option>
            <option value="urgent">Urgent</option>
            <option value="high">High</option>
            <option value="medium">Medium</option>
            <option value="low">Low</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-tag`}>Tag</label>
          <input
            id={`${id}-tag`}
            data-testid="filter-tag"
            list={`${id}-tags`}
            placeholder="e.g. work"
            autoComplete="off"
            value={tag}
            onChange={(e) => typed({ tag: e.target.value })}
          />
          <datalist id={`${id}-tags`}>
            {knownTags.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor={`${id}-sort`}>Sort by</label>
          <select
            id={`${id}-sort`}
            data-testid="sort"
            value={filters.sort}
            onChange={(e) => onChange({ sort: e.target.value as FilterValues["sort"] })}
          >
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field check-field">
          <input
            id={`${id}-overdue`}
            data-testid="filter-overdue"
            type="checkbox"
            checked={filters.overdue}
            onChange={(e) => onChange({ overdue: e.target.checked })}
          />
          <label htmlFor={`${id}-overdue`}>Overdue only</label>
        </div>
        {hasFilters(filters) ? (
          <button
            type="button"
            className="btn small ghost filters-clear"
            data-testid="filters-clear"
            onClick={() => {
              clearTimeout(timer.current);
              setTyping({});
              onChange({ ...DEFAULT_FILTERS, sort: filters.sort });
              search.current?.focus();
            }}
          >
            Clear filters
          </button>
        ) : null}
      </div>
    </form>
  );
}
