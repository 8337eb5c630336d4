"""Recurring tasks: a subset of RFC 5545 RRULE, evaluated in the task's local wall time.

Occurrence 1 of a series is always `series_start`, whether or not it matches the rule; `count`
includes it. Occurrence times keep the wall-clock time of day across DST changes: a wall time
that falls in a spring-forward gap moves forward by the gap's length, and an ambiguous one
takes its first reading (fold=0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The stubs (types-python-dateutil) are not installed everywhere mypy runs; this line has to
# pass with and without them.
from dateutil import rrule as du  # type: ignore[import-untyped, unused-ignore]
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "Frequency",
    "NthWeekday",
    "RecurrenceBasis",
    "RecurrenceRule",
    "Weekday",
    "next_occurrence",
    "occurrences",
]


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class Weekday(StrEnum):
    MO = "MO"
    TU = "TU"
    WE = "WE"
    TH = "TH"
    FR = "FR"
    SA = "SA"
    SU = "SU"


class RecurrenceBasis(StrEnum):
    """Whether the next due date counts from the current due date or from the completion."""

    DUE = "due"
    COMPLETION = "completion"


_WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)
_WORKWEEK: list[Weekday] = list(_WEEKDAYS[:5])
_SHORT_NAMES = dict(zip(_WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
_LONG_NAMES = dict(
    zip(
        _WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)
_UNITS: dict[Frequency, tuple[str, str]] = {
    Frequency.DAILY: ("day", "days"),
    Frequency.WEEKLY: ("week", "weeks"),
    Frequency.MONTHLY: ("month", "months"),
    Frequency.YEARLY: ("year", "years"),
}
_DU_FREQ: dict[Frequency, Literal[0, 1, 2, 3]] = {
    Frequency.YEARLY: du.YEARLY,
    Frequency.MONTHLY: du.MONTHLY,
    Frequency.WEEKLY: du.WEEKLY,
    Frequency.DAILY: du.DAILY,
}
_ORDINALS = (1, 2, 3, 4, -1)
_SUPPORTED_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "UNTIL", "COUNT")
_BYDAY_RE = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INT_RE = re.compile(r"[+-]?\d+")
_UNTIL_RE = re.compile(r"\d{8}T\d{6}Z")
# Wider than any UTC offset change on record (Samoa skipped a whole day in 2011), so an
# occurrence that a DST shift moves past the reference instant is never skipped.
_DST_SLACK = timedelta(days=1, hours=1)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class NthWeekday(BaseModel):
    """The nth weekday of a month, e.g. the 2nd Tuesday; ordinal -1 means the last one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ordinal: int
    weekday: Weekday

    @field_validator("ordinal")
    @classmethod
    def _check_ordinal(cls, value: int) -> int:
        if value not in _ORDINALS:
            raise ValueError(f"ordinal must be 1, 2, 3, 4 or -1 (the last), got {value}")
        return value


class RecurrenceRule(BaseModel):
    """How a task repeats."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frequency: Frequency
    interval: int = Field(default=1, ge=1, le=1000)
    weekdays: list[Weekday] | None = None
    month_day: int | None = None
    nth_weekday: NthWeekday | None = None
    until: datetime | None = None
    count: int | None = Field(default=None, ge=1, le=10000)
    basis: RecurrenceBasis = RecurrenceBasis.DUE

    @field_validator("weekdays")
    @classmethod
    def _normalise_weekdays(cls, value: list[Weekday] | None) -> list[Weekday] | None:
        if value is None:
            return None
        if not value:
            raise ValueError(
                "weekdays must not be empty; leave it out to repeat on the weekday of the "
                "series start"
            )
        duplicates = sorted({day for day in value if value.count(day) > 1}, key=_WEEKDAYS.index)
        if duplicates:
            raise ValueError(f"weekdays must not contain duplicates: {', '.join(duplicates)}")
        return sorted(value, key=_WEEKDAYS.index)

    @field_validator("month_day")
    @classmethod
    def _check_month_day(cls, value: int | None) -> int | None:
        if value is not None and not (1 <= value <= 31 or value == -1):
            raise ValueError(
                f"month_day must be between 1 and 31, or -1 for the last day of the month, "
                f"got {value}"
            )
        return value

    @field_validator("until")
    @classmethod
    def _check_until(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("until must include a time zone (an offset such as Z or +02:00)")
        # RRULE text carries whole seconds; dropping the rest keeps to_rrule/from_rrule lossless,
        # and occurrences are whole seconds too, so no occurrence changes side of the bound.
        return value.replace(microsecond=0)

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        for field, allowed in (
            ("weekdays", Frequency.WEEKLY),
            ("month_day", Frequency.MONTHLY),
            ("nth_weekday", Frequency.MONTHLY),
        ):
            if getattr(self, field) is not None and self.frequency is not allowed:
                raise ValueError(f"{field} is only allowed with frequency '{allowed}'")
        if self.month_day is not None and self.nth_weekday is not None:
            raise ValueError("month_day and nth_weekday are mutually exclusive")
        if self.until is not None and self.count is not None:
            raise ValueError("until and count are mutually exclusive")
        return self

    def to_rrule(self) -> str:
        """RFC 5545 RRULE value (without "RRULE:"); `basis` has no RFC 5545 equivalent."""
        parts = [f"FREQ={self.frequency.name}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.weekdays is not None:
            parts.append(f"BYDAY={','.join(self.weekdays)}")
        if self.nth_weekday is not None:
            parts.append(f"BYDAY={self.nth_weekday.ordinal}{self.nth_weekday.weekday}")
        if self.month_day is not None:
            parts.append(f"BYMONTHDAY={self.month_day}")
        if self.until is not None:
            u = self.until.astimezone(UTC)
            # Not strftime: %Y does not zero-pad years before 1000 on every platform.
            parts.append(
                f"UNTIL={u.year:04d}{u.month:02d}{u.day:02d}"
                f"T{u.hour:02d}{u.minute:02d}{u.second:02d}Z"
            )
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        return ";".join(parts)

    @classmethod
    def from_rrule(cls, text: str, basis: RecurrenceBasis = RecurrenceBasis.DUE) -> Self:
        """Parse what `to_rrule` writes; anything outside that subset raises ValueError."""
        parts = _split_rrule(text)
        if "FREQ" not in parts:
            raise ValueError("RRULE must have a FREQ part")
        try:
            frequency = Frequency(parts["FREQ"].lower())
        except ValueError:
            raise ValueError(
                f"FREQ={parts['FREQ']} is not supported (supported: DAILY, WEEKLY, MONTHLY, "
                "YEARLY)"
            ) from None

        weekdays: list[Weekday] | None = None
        nth_weekday: NthWeekday | None = None
        if "BYDAY" in parts:
            weekdays, nth_weekday = _parse_byday(parts["BYDAY"], frequency)
        month_day: int | None = None
        if "BYMONTHDAY" in parts:
            if frequency is not Frequency.MONTHLY:
                raise ValueError("BYMONTHDAY is only supported with FREQ=MONTHLY")
            if "," in parts["BYMONTHDAY"]:
                raise ValueError("BYMONTHDAY with more than one day is not supported")
            month_day = _parse_int("BYMONTHDAY", parts["BYMONTHDAY"])
        until: datetime | None = None
        if "UNTIL" in parts:
            until = _parse_until(parts["UNTIL"])

        try:
            return cls(
                frequency=frequency,
                interval=_parse_int("INTERVAL", parts.get("INTERVAL", "1"), signed=False),
                weekdays=weekdays,
                month_day=month_day,
                nth_weekday=nth_weekday,
                until=until,
                count=_parse_int("COUNT", parts["COUNT"], signed=False)
                if "COUNT" in parts
                else None,
                basis=basis,
            )
        except ValidationError as exc:
            raise ValueError(f"invalid RRULE {text!r}: {_error_summary(exc)}") from exc

    def describe(self) -> str:
        """English summary, e.g. "Every 2 weeks on Mon, Wed, 5 times (from completion)"."""
        singular, plural = _UNITS[self.frequency]
        text = f"Every {singular}" if self.interval == 1 else f"Every {self.interval} {plural}"
        if self.weekdays == _WORKWEEK:
            text = "Every weekday" if self.interval == 1 else f"{text} on weekdays"
        elif self.weekdays is not None:
            text += " on " + ", ".join(_SHORT_NAMES[day] for day in self.weekdays)
        elif self.nth_weekday is not None:
            ordinal = self.nth_weekday.ordinal
            which = "last" if ordinal == -1 else _ordinal(ordinal)
            text += f" on the {which} {_LONG_NAMES[self.nth_weekday.weekday]}"
        elif self.month_day == -1:
            text += " on the last day"
        elif self.month_day is not None:
            text += f" on the {_ordinal(self.month_day)}"
        if self.count == 1:
            text += ", once"
        elif self.count is not None:
            text += f", {self.count} times"
        if self.until is not None:
            # The date as the client wrote it: its own offset, not UTC.
            text += f", until {self.until.date().isoformat()}"
        if self.basis is RecurrenceBasis.COMPLETION:
            text += " (from completion)"
        return text


def _split_rrule(text: str) -> dict[str, str]:
    body = text.strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if not body:
        raise ValueError("RRULE is empty")
    parts: dict[str, str] = {}
    for raw in body.split(";"):
        name, sep, value = (piece.strip().upper() for piece in raw.partition("="))
        if not sep or not name or not value:
            raise ValueError(f"RRULE part {raw.strip()!r} is not of the form NAME=VALUE")
        if name not in _SUPPORTED_PARTS:
            raise ValueError(
                f"RRULE part {name} is not supported (supported: {', '.join(_SUPPORTED_PARTS)})"
            )
        if name in parts:
            raise ValueError(f"RRULE part {name} appears more than once")
        parts[name] = value
    return parts


def _parse_int(name: str, value: str, *, signed: bool = True) -> int:
    if not _INT_RE.fullmatch(value) or (not signed and not value.isdigit()):
        kind = "an integer" if signed else "a positive integer"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _parse_byday(
    value: str, frequency: Frequency
) -> tuple[list[Weekday] | None, NthWeekday | None]:
    items: list[tuple[str | None, Weekday]] = []
    for item in value.split(","):
        match = _BYDAY_RE.fullmatch(item.strip())
        if match is None:
            raise ValueError(f"BYDAY value {item!r} is not a weekday such as MO, 2TU or -1FR")
        items.append((match.group(1), Weekday(match.group(2))))
    if frequency is Frequency.WEEKLY:
        with_ordinal = [f"{ordinal}{day}" for ordinal, day in items if ordinal is not None]
        if with_ordinal:
            raise ValueError(
                f"BYDAY with an ordinal ({', '.join(with_ordinal)}) is only supported with "
                "FREQ=MONTHLY"
            )
        return [day for _, day in items], None
    if frequency is Frequency.MONTHLY:
        ordinal, day = items[0]
        if len(items) != 1 or ordinal is None:
            raise ValueError(
                "BYDAY with FREQ=MONTHLY must be one weekday with an ordinal, such as 2TU or -1FR"
            )
        try:
            return None, NthWeekday(ordinal=int(ordinal), weekday=day)
        except ValidationError as exc:
            raise ValueError(f"BYDAY={value}: {_error_summary(exc)}") from exc
    raise ValueError("BYDAY is only supported with FREQ=WEEKLY or FREQ=MONTHLY")


def _parse_until(value: str) -> datetime:
    problem = f"UNTIL must be a UTC date-time such as 20270101T000000Z, got {value!r}"
    if not _UNTIL_RE.fullmatch(value):
        raise ValueError(problem)
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(problem) from None


def _error_summary(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = ".".join(str(part) for part in error["loc"])
        messages.append(f"{loc}: {message}" if loc else message)
    return "; ".join(messages)


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


def _utc(value: datetime) -> datetime:
    # Aware datetimes sharing one tzinfo compare by wall time, fold ignored; instants need UTC.
    return value.astimezone(UTC)


def _past_until(rule: RecurrenceRule, value: datetime) -> bool:
    return rule.until is not None and _utc(value) > _utc(rule.until)


def _localize(wall: datetime, tz: ZoneInfo) -> datetime:
    # fold=0 takes the first reading of an ambiguous time, and reads a time inside a gap with the
    # offset from before the gap, so the round trip through UTC lands as far past the gap's end
    # as the time was past its start (02:30 -> 03:30 when 02:00 jumps to 03:00).
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def _clamped_month_day(day: int) -> tuple[int | list[int], int | None]:
    """BYMONTHDAY and BYSETPOS for `day`, falling back to the month's last day if it is shorter."""
    if day == -1 or day <= 28:
        return day, None
    # RFC 5545 skips months that lack the day; the last of 28..day that the month has is the
    # day itself in long months and the last day in short ones, so the anchor never drifts.
    return list(range(28, day + 1)), -1


def _wall_rrule(rule: RecurrenceRule, dtstart: datetime) -> du.rrule:
    """The rule over naive wall times from `dtstart`; callers apply count and until."""
    byweekday: list[du.weekday] | None = None
    bymonth: int | None = None
    bymonthday: int | list[int] | None = None
    bysetpos: int | None = None
    if rule.frequency is Frequency.WEEKLY:
        days = rule.weekdays or [_WEEKDAYS[dtstart.weekday()]]
        byweekday = [du.weekdays[_WEEKDAYS.index(day)] for day in days]
    elif rule.frequency is Frequency.MONTHLY:
        if rule.nth_weekday is not None:
            nth = rule.nth_weekday
            byweekday = [du.weekdays[_WEEKDAYS.index(nth.weekday)](nth.ordinal)]
        else:
            bymonthday, bysetpos = _clamped_month_day(rule.month_day or dtstart.day)
    elif rule.frequency is Frequency.YEARLY:
        bymonth = dtstart.month
        bymonthday, bysetpos = _clamped_month_day(dtstart.day)
    return du.rrule(
        _DU_FREQ[rule.frequency],
        dtstart=dtstart,
        interval=rule.interval,
        wkst=du.MO,
        byweekday=byweekday,
        bymonth=bymonth,
        bymonthday=bymonthday,
        bysetpos=bysetpos,
    )


def _first_after(
    rule: RecurrenceRule, dtstart: datetime, after: datetime, tz: ZoneInfo
) -> datetime | None:
    # Decided on instants, not wall times: around a DST change an occurrence whose wall time is
    # earlier than `after`'s can still be later in real time, hence starting a little early.
    walls: Iterator[datetime] = _wall_rrule(rule, dtstart).xafter(
        _wall(after, tz) - _DST_SLACK, inc=True
    )
    for wall in walls:
        candidate = _localize(wall, tz)
        if _utc(candidate) > _utc(after):
            return candidate
    return None


def next_occurrence(
    rule: RecurrenceRule,
    *,
    series_start: datetime,
    current_due: datetime,
    time_zone: str,
    occurrence_number: int,
    completed_at: datetime | None = None,
) -> datetime | None:
    """Due date-time of the occurrence after number `occurrence_number`, or None if it was the last.

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
    if rule.count is not None and occurrence_number >= rule.count:
        return None
    following = _first_after(rule, dtstart, after, tz)
    if following is None or _past_until(rule, following):
        return None
    return following


def occurrences(
    rule: RecurrenceRule, *, series_start: datetime, time_zone: str, limit: int
) -> list[datetime]:
    """The first `limit` due date-times of the series, starting with `series_start`.

    With basis COMPLETION this assumes each occurrence is completed exactly when due.
    """
    tz = _zone(time_zone)
    _require_aware("series_start", series_start)
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    if limit == 0:
        return []
    result = [series_start.astimezone(tz)]
    size = limit if rule.count is None else min(limit, rule.count)
    if rule.basis is RecurrenceBasis.COMPLETION:
        while len(result) < size:
            following = next_occurrence(
                rule,
                series_start=series_start,
                current_due=result[-1],
                time_zone=time_zone,
                occurrence_number=len(result),
                completed_at=result[-1],
            )
            if following is None:
                break
            result.append(following)
        return result
    # One pass over a single rrule: chaining next_occurrence would restart it every time.
    walls: Iterator[datetime] = iter(_wall_rrule(rule, _wall(series_start, tz)))
    for wall in walls:
        if len(result) >= size:
            break
        candidate = _localize(wall, tz)
        if _utc(candidate) <= _utc(result[-1]):
            continue
        if _past_until(rule, candidate):
            break
        result.append(candidate)
    return result
