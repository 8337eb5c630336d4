"""A rule in English, e.g. "Every month on the 2nd to last Monday, 5 times (from completion)"."""

from __future__ import annotations

import calendar

from todo.domain.recurrence.rule import ByDay, RecurrenceRule
from todo.domain.recurrence.terms import (
    WEEKDAYS,
    Frequency,
    MissingDay,
    RecurrenceBasis,
    Weekday,
)

__all__ = ["describe"]

_WORKWEEK = [ByDay(weekday=day) for day in WEEKDAYS[:5]]
_SHORT = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
_LONG = dict(zip(WEEKDAYS, calendar.day_name, strict=True))
_UNITS = {
    Frequency.DAILY: ("day", "days"),
    Frequency.WEEKLY: ("week", "weeks"),
    Frequency.MONTHLY: ("month", "months"),
    Frequency.YEARLY: ("year", "years"),
}


def describe(rule: RecurrenceRule) -> str:
    singular, plural = _UNITS[rule.frequency]
    text = f"Every {singular}" if rule.interval == 1 else f"Every {rule.interval} {plural}"
    workweek = rule.by_day == _WORKWEEK and rule.by_set_position is None
    if workweek and rule.interval == 1 and rule.frequency in (Frequency.DAILY, Frequency.WEEKLY):
        text = "Every weekday"
    if rule.by_month is not None:
        text += " in " + _join([calendar.month_name[month] for month in rule.by_month])
    if workweek and rule.by_month_day is None:
        if not text.startswith("Every weekday"):
            text += " on weekdays"
    else:
        days = _days(rule)
        if days:
            text += " on " + days
    if rule.week_start is not Weekday.MO:
        text += f", weeks starting {_LONG[rule.week_start]}"
    if rule.count == 1:
        text += ", once"
    elif rule.count is not None:
        text += f", {rule.count} times"
    if rule.until is not None:
        # The date as the client wrote it: its own offset, not UTC.
        text += f", until {rule.until.date().isoformat()}"
    if rule.basis is RecurrenceBasis.COMPLETION:
        text += " (from completion)"
    return text


def _days(rule: RecurrenceRule) -> str:
    """The days of a period the rule picks: "Mon, Thu", "the 1st and 15th", "the last Friday"."""
    parts = []
    if rule.by_month_day is not None:
        parts.append(_month_days(rule))
    if rule.by_day == _WORKWEEK:
        parts.append("weekday")
    elif rule.by_day is not None:
        plain = [_SHORT[e.weekday] for e in rule.by_day if e.ordinal is None]
        nth = [f"{_nth(e.ordinal)} {_LONG[e.weekday]}" for e in rule.by_day if e.ordinal]
        weekdays = ", ".join(plain)
        if nth:
            weekdays = _join(([weekdays] if plain else []) + ["the " + _join(nth)])
        parts.append(weekdays)
    days = " if it is ".join(parts)
    if rule.by_set_position is None or not days:
        return days
    positions = _join([_nth(p) for p in rule.by_set_position])
    if days == "weekday":
        return f"the {positions} weekday"
    return f"the {positions} of {days.removeprefix('the ')}"


def _month_days(rule: RecurrenceRule) -> str:
    names = [_nth(day) if day > 0 else _nth(day) + " day" for day in rule.by_month_day or []]
    text = "the " + _join(names)
    if rule.missing_day is MissingDay.LAST_DAY and any(d > 28 for d in rule.by_month_day or []):
        text += " (or the month's last day)"
    return text


def _nth(n: int | None) -> str:
    """1 -> "1st", -1 -> "last", -2 -> "2nd to last"."""
    if n is None:
        return ""
    if n == -1:
        return "last"
    value = abs(n)
    suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}" + (" to last" if n < 0 else "")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
