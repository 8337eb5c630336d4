"""How a task repeats: an RFC 5545 recurrence rule with one field per RRULE part.

`by_day`, `by_month_day`, `by_month` and `by_set_position` are BYDAY, BYMONTHDAY, BYMONTH
and BYSETPOS; `week_start` is WKST; `missing_day` is RFC 7529's SKIP (a month day that a
month lacks is skipped, as RFC 5545 says, or becomes that month's last day). `basis` has
no RRULE equivalent: the next due date counts from the current one or from the completion.

Rules stored before these fields existed (`weekdays`, `month_day`, `nth_weekday`) are read
as what they meant then: month days past a month's end fell back to its last day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from todo.domain.recurrence.expansion import Selection
from todo.domain.recurrence.terms import (
    WEEKDAYS,
    Frequency,
    MissingDay,
    RecurrenceBasis,
    Weekday,
)

__all__ = ["ByDay", "RecurrenceRule"]


# The longest each month can be: a rule whose month days fit none of its months never occurs.
_LONGEST_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31}
_LONGEST_MONTH |= {11: 30, 12: 31}
_ANY_28_YEARS = (date(2000, 1, 1), date(2027, 12, 31))
_LEGACY_FIELDS = frozenset({"weekdays", "month_day", "nth_weekday"})
_RULE_PARTS = frozenset({"by_day", "by_month_day", "by_month", "by_set_position"})

Month = Annotated[int, Field(ge=1, le=12)]
MonthDay = Annotated[int, Field(ge=-31, le=31)]
SetPosition = Annotated[int, Field(ge=-366, le=366)]


class ByDay(BaseModel):
    """One BYDAY entry: every such weekday of the period, or the nth one (-1 is the last)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: Weekday
    ordinal: int | None = Field(default=None, ge=-53, le=53)

    @field_validator("ordinal")
    @classmethod
    def _not_zero(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("ordinal must not be 0: 1 is the first, -1 the last; leave it out")
        return value

    def __str__(self) -> str:
        return f"{self.ordinal or ''}{self.weekday}"


def _signed_order(value: int) -> tuple[bool, int]:
    # 1, 2, ... then -31, ..., -1: from the start of a period, then from its end.
    return (value < 0, value)


def _by_day_order(entry: ByDay) -> tuple[int, tuple[bool, int], int]:
    ordinal = entry.ordinal
    group = 0 if ordinal is None else 1
    return (group, _signed_order(ordinal or 0), WEEKDAYS.index(entry.weekday))


T = TypeVar("T")


def _canonical(name: str, values: list[T] | None, key: Callable[[T], Any]) -> list[T] | None:
    """`values` sorted; an empty list or a repeated value is refused."""
    if values is None:
        return None
    if not values:
        raise ValueError(f"{name} must not be empty; leave it out instead")
    counts = Counter(str(v) for v in values)
    repeated = sorted(value for value, count in counts.items() if count > 1)
    if repeated:
        raise ValueError(f"{name} must not repeat a value: {', '.join(repeated)}")
    return sorted(values, key=key)


class RecurrenceRule(BaseModel):
    """How a task repeats: an RFC 5545 RRULE (section 3.3.10) in structured form.

    The earlier shape (`weekdays`, `month_day`, `nth_weekday`) is still read: it means
    what it did, month days past a month's end falling back to its last day.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    frequency: Frequency
    interval: int = Field(default=1, ge=1, le=1000)
    # At most as many values as there are distinct ones: every weekday plain and with each
    # ordinal, every month day from either end, every position from either end.
    by_day: list[ByDay] | None = Field(default=None, max_length=7 * 107)
    by_month_day: list[MonthDay] | None = Field(default=None, max_length=62)
    by_month: list[Month] | None = Field(default=None, max_length=12)
    by_set_position: list[SetPosition] | None = Field(default=None, max_length=732)
    week_start: Weekday = Weekday.MO
    missing_day: MissingDay = MissingDay.SKIP
    until: datetime | None = None
    count: int | None = Field(default=None, ge=1, le=10000)
    basis: RecurrenceBasis = RecurrenceBasis.DUE

    @model_validator(mode="before")
    @classmethod
    def _read_earlier_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not _LEGACY_FIELDS & data.keys():
            return data
        return _from_earlier_shape(data)

    @field_validator("by_day")
    @classmethod
    def _by_day(cls, value: list[ByDay] | None) -> list[ByDay] | None:
        return _canonical("by_day", value, _by_day_order)

    @field_validator("by_month_day")
    @classmethod
    def _by_month_day(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and 0 in value:
            raise ValueError(
                "by_month_day must not contain 0: 1..31 count from a month's start, "
                "-1..-31 from its end"
            )
        return _canonical("by_month_day", value, _signed_order)

    @field_validator("by_month")
    @classmethod
    def _by_month(cls, value: list[int] | None) -> list[int] | None:
        return _canonical("by_month", value, int)

    @field_validator("by_set_position")
    @classmethod
    def _by_set_position(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and 0 in value:
            raise ValueError("by_set_position must not contain 0: 1 is the first, -1 the last")
        return _canonical("by_set_position", value, _signed_order)

    @field_validator("until")
    @classmethod
    def _check_until(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("until must include a time zone (an offset such as Z or +02:00)")
        # RRULE text carries whole seconds; dropping the rest keeps the text form lossless,
        # and occurrences are whole seconds too, so no occurrence changes side of the bound.
        return value.replace(microsecond=0)

    @model_validator(mode="after")
    def _check_combination(self) -> Self:
        if self.until is not None and self.count is not None:
            raise ValueError("until and count are mutually exclusive")
        if self.by_month_day is not None and self.frequency is Frequency.WEEKLY:
            raise ValueError("by_month_day is not allowed with frequency 'weekly' (RFC 5545)")
        self._check_ordinals()
        self._check_set_position()
        self._check_month_days_exist()
        self._check_some_day_is_selected()
        return self

    @property
    def ordinal_scope(self) -> int:
        """How many of a weekday a period can hold: a month's 5, or a year's 53."""
        return 53 if self.frequency is Frequency.YEARLY and self.by_month is None else 5

    def _check_ordinals(self) -> None:
        ordinals = [entry for entry in self.by_day or [] if entry.ordinal is not None]
        if not ordinals:
            return
        if self.frequency not in (Frequency.MONTHLY, Frequency.YEARLY):
            raise ValueError(
                f"by_day: an ordinal ({ordinals[0]}) is only allowed with frequency "
                "'monthly' or 'yearly' (RFC 5545)"
            )
        scope = self.ordinal_scope
        beyond = [str(entry) for entry in ordinals if abs(entry.ordinal or 0) > scope]
        if beyond:
            where = "a month" if scope == 5 else "a year"
            raise ValueError(
                f"by_day: {', '.join(beyond)} cannot occur: {where} has at most {scope} of "
                "each weekday"
            )

    def _check_set_position(self) -> None:
        if self.by_set_position is None:
            return
        if self.frequency is Frequency.DAILY:
            raise ValueError(
                "by_set_position is not supported with frequency 'daily': each period is one day"
            )
        if self.by_day is None and self.by_month_day is None and self.by_month is None:
            raise ValueError(
                "by_set_position needs by_day, by_month_day or by_month to choose from "
                "(RFC 5545)"
            )
        most = self._most_days_per_period()
        if all(abs(position) > most for position in self.by_set_position):
            raise ValueError(
                f"by_set_position: a {self._period_name()} of this rule holds at most {most} "
                f"matching day{'s' if most > 1 else ''}, so no position given can occur"
            )

    def _period_name(self) -> str:
        return {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}[
            self.frequency
        ]

    def _most_days_per_period(self) -> int:
        """An upper bound on the days one period can select before BYSETPOS picks."""
        if self.frequency is Frequency.WEEKLY:
            return len(self.by_day) if self.by_day else 1
        if self.by_month_day is not None:
            per_month = len(self.by_month_day)
        elif self.by_day is not None:
            if self.ordinal_scope == 53:
                return min(sum(53 if e.ordinal is None else 1 for e in self.by_day), 366)
            per_month = min(sum(5 if e.ordinal is None else 1 for e in self.by_day), 31)
        else:
            per_month = 1  # the series start's day of the month
        if self.frequency is Frequency.MONTHLY:
            return per_month
        days_given = self.by_month_day is not None or self.by_day is not None
        months = len(self.by_month) if self.by_month else 12 if days_given else 1
        return min(per_month * months, 366)

    def _check_month_days_exist(self) -> None:
        if self.by_month_day is None:
            return
        months = self.by_month or list(_LONGEST_MONTH)
        clamps = self.missing_day is MissingDay.LAST_DAY

        def fits(day: int, month: int) -> bool:
            return (day > 0 and clamps) or abs(day) <= _LONGEST_MONTH[month]

        if not any(fits(day, month) for day in self.by_month_day for month in months):
            raise ValueError(
                "by_month_day: none of these days exists in "
                + ("the months of by_month" if self.by_month else "any month")
                + " (missing_day 'last_day' moves a day past a month's end to its last day)"
            )

    def _check_some_day_is_selected(self) -> None:
        if self.by_day is None and self.by_month_day is None:
            return  # the series start's day: always there
        # 28 years hold every kind of year (leap or not, from each weekday), hence every kind
        # of month and week: parts that never meet there never meet at all.
        first, last = _ANY_28_YEARS
        if next(Selection.of(self, first, interval=1).dates(first, last), None) is None:
            parts = [name for name in _RULE_PARTS if getattr(self, name) is not None]
            raise ValueError(
                f"{', '.join(sorted(parts))} never select a day together (for example the 31st "
                "is never a first Monday), so the task would never recur"
            )


def _from_earlier_shape(data: dict[str, Any]) -> dict[str, Any]:
    """The current fields for a rule written as `weekdays` / `month_day` / `nth_weekday`."""
    mixed = sorted((_RULE_PARTS | {"missing_day"}) & data.keys())
    if mixed:
        raise ValueError(
            f"{', '.join(sorted(_LEGACY_FIELDS & data.keys()))} (the earlier form) cannot be "
            f"combined with {', '.join(mixed)}: use by_day and by_month_day"
        )
    converted = {key: value for key, value in data.items() if key not in _LEGACY_FIELDS}
    weekdays = data.get("weekdays")
    nth = data.get("nth_weekday")
    month_day = data.get("month_day")
    frequency = data.get("frequency")
    # What the earlier form allowed; the values themselves are checked as by_day and
    # by_month_day, whose ranges include the earlier ones.
    for name, value, allowed in (
        ("weekdays", weekdays, Frequency.WEEKLY),
        ("month_day", month_day, Frequency.MONTHLY),
        ("nth_weekday", nth, Frequency.MONTHLY),
    ):
        if value is not None and frequency != allowed.value:
            raise ValueError(f"{name} is only allowed with frequency '{allowed}'")
    if month_day is not None and nth is not None:
        raise ValueError("month_day and nth_weekday are mutually exclusive")
    by_day: list[Any] = []
    if weekdays is not None:
        if not isinstance(weekdays, list):
            raise ValueError("weekdays must be a list of weekdays such as ['MO', 'TH']")
        by_day.extend({"weekday": day} for day in weekdays)
        if not weekdays:
            converted["by_day"] = []
    if nth is not None:
        if not isinstance(nth, dict):
            raise ValueError("nth_weekday must be an object with ordinal and weekday")
        by_day.append(nth)
    if by_day:
        converted["by_day"] = by_day
    if month_day is not None:
        converted["by_month_day"] = [month_day]
    if _fell_back_to_month_end(frequency, nth, month_day):
        converted["missing_day"] = MissingDay.LAST_DAY.value
    return converted


def _fell_back_to_month_end(frequency: Any, nth: Any, month_day: Any) -> bool:
    """Whether the earlier rule could name a day past a month's end (which it then clamped)."""
    if frequency == Frequency.YEARLY.value:
        return True
    if frequency != Frequency.MONTHLY.value or nth is not None:
        return False
    return month_day is None or (isinstance(month_day, int) and month_day > 28)
