"""The next occurrence of a series, computed from the current one in the task's wall time.

Occurrence 1 of a series is always `series_start`, whether or not it matches the rule (RFC
5545: DTSTART is the first instance); `count` includes it. Occurrence times keep the
wall-clock time of day across DST changes: a wall time that falls in a spring-forward gap
moves forward by the gap's length, and an ambiguous one takes its first reading (fold=0).

The cost of one step does not grow with the age of the series: the search starts at the
period of the current occurrence (found by division from the series start) and looks at
most `SEARCH_YEARS` years or `SEARCH_PERIODS` of the rule's periods ahead, whichever is
longer. A rule with nothing there, or whose next occurrence lies past year 9999, cannot
go on: `RecurrenceUncomputable` says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todo.domain.recurrence.expansion import Selection
from todo.domain.recurrence.rule import RecurrenceRule
from todo.domain.recurrence.terms import Frequency, RecurrenceBasis

__all__ = [
    "SEARCH_PERIODS",
    "SEARCH_YEARS",
    "Occurrence",
    "RecurrenceUncomputable",
    "next_occurrence",
]

# One Gregorian cycle: every calendar pattern without an interval repeats after it.
SEARCH_YEARS = 400
SEARCH_PERIODS = 400
# Wider than any UTC offset change on record (Samoa skipped a whole day in 2011), so an
# occurrence that a DST shift moves past the reference instant is never skipped.
_DST_SLACK = timedelta(days=1, hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERIOD_DAYS = {
    Frequency.DAILY: 1,
    Frequency.WEEKLY: 7,
    Frequency.MONTHLY: 31,
    Frequency.YEARLY: 366,
}


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series: its position (1 is the series start) and due time."""

    number: int
    due_at: datetime


class RecurrenceUncomputable(ValueError):
    """The series cannot go on: its next occurrence is past the datetime range, or the rule
    selects no date within the bounded search. Retrying can never change the answer."""

    def __init__(self, reason: Literal["out_of_range", "search_exhausted"], detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def next_occurrence(
    rule: RecurrenceRule,
    *,
    series_start: datetime,
    current_due: datetime,
    time_zone: str,
    occurrence_number: int,
    completed_at: datetime | None = None,
) -> Occurrence | None:
    """The occurrence after number `occurrence_number` (due at `current_due`), or None when
    that one was the last (count or until).

    The result is in `time_zone`. With basis COMPLETION, `completed_at` is required and the
    next occurrence is the first one after it, on a schedule restarted at its local date.
    """
    tz = _zone(time_zone)
    _require_aware("series_start", series_start)
    _require_aware("current_due", current_due)
    if completed_at is not None:
        _require_aware("completed_at", completed_at)
    if occurrence_number < 1:
        raise ValueError(f"occurrence_number must be 1 or more, got {occurrence_number}")
    if rule.count is not None and occurrence_number >= rule.count:
        return None
    try:
        start = _wall(series_start, tz)
        if rule.basis is RecurrenceBasis.COMPLETION:
            if completed_at is None:
                raise ValueError("completed_at is required when basis is 'completion'")
            completed_day = _wall(completed_at, tz).date()
            dtstart = datetime.combine(completed_day, start.time())
            # The next one falls on a later day than the completion, even when the task was
            # finished before its time of day: "every day" done early is due again tomorrow.
            after = max(completed_at, _localize(datetime.combine(completed_day, time.max), tz))
        else:
            dtstart, after = start, current_due
        after_wall = _wall(after, tz)
    except OverflowError:
        raise RecurrenceUncomputable(
            "out_of_range", "the series' dates lie at the edge of the datetime range"
        ) from None
    following = _first_after(rule, dtstart, after, after_wall, tz)
    if following is None:
        return None
    return Occurrence(number=occurrence_number + 1, due_at=following)


def _first_after(
    rule: RecurrenceRule, dtstart: datetime, after: datetime, after_wall: datetime, tz: ZoneInfo
) -> datetime | None:
    """The first occurrence later than the instant `after`, None past `until`."""
    # Decided on instants, not wall times: around a DST change an occurrence whose wall time is
    # earlier than `after`'s can still be later in real time, hence starting a little early.
    try:
        since = (after_wall - _DST_SLACK).date()
    except OverflowError:
        since = date.min
    through, bounded_by = _search_end(rule, since)
    selection = Selection.of(rule, dtstart.date())
    for day in selection.dates(since, through):
        try:
            candidate = _localize(datetime.combine(day, dtstart.time()), tz)
        except OverflowError:
            bounded_by = "range"
            break
        if _instant(candidate) <= _instant(after):
            continue
        if rule.until is not None and _instant(candidate) > _instant(rule.until):
            return None
        return candidate
    if bounded_by == "until":
        return None
    if bounded_by == "range":
        raise RecurrenceUncomputable(
            "out_of_range", f"the next occurrence after {after.isoformat()} is past year 9999"
        )
    raise RecurrenceUncomputable(
        "search_exhausted",
        f"the rule selects no date within {SEARCH_YEARS} years or {SEARCH_PERIODS} periods "
        f"after {after.isoformat()}",
    )


def _search_end(
    rule: RecurrenceRule, since: date
) -> tuple[date, Literal["until", "search", "range"]]:
    """The last date to look at, and what sets it (the first of these on a tie)."""
    ends: list[tuple[date, Literal["until", "search", "range"]]] = []
    if rule.until is not None:
        # Two days past the bound's UTC date: no later local date can hold an instant before
        # it, UTC offsets being within 14 hours.
        last = _EPOCH.toordinal() + _instant(rule.until).days
        if last + 2 <= date.max.toordinal():
            ends.append((date.fromordinal(last + 2), "until"))
    span = max(SEARCH_YEARS * 366, SEARCH_PERIODS * rule.interval * _PERIOD_DAYS[rule.frequency])
    if since.toordinal() + span <= date.max.toordinal():
        ends.append((date.fromordinal(since.toordinal() + span), "search"))
    ends.append((date.max, "range"))
    return min(ends, key=lambda end: end[0])


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time_zone {time_zone!r} is not a known IANA time zone") from None


def _require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _wall(value: datetime, tz: ZoneInfo) -> datetime:
    return value.astimezone(tz).replace(tzinfo=None, fold=0)


def _instant(value: datetime) -> timedelta:
    # Aware datetimes sharing one tzinfo compare by wall time, fold ignored; a difference to an
    # instant in another tzinfo is exact, and unlike astimezone(UTC) never leaves the range.
    return value - _EPOCH


def _localize(wall: datetime, tz: ZoneInfo) -> datetime:
    # fold=0 takes the first reading of an ambiguous time, and reads a time inside a gap with the
    # offset from before the gap, so the round trip through UTC lands as far past the gap's end
    # as the time was past its start (02:30 -> 03:30 when 02:00 jumps to 03:00).
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)
