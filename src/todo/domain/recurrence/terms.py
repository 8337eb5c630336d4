"""The words of a recurrence rule: frequencies, weekdays, bases, and what a missing day becomes."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["WEEKDAYS", "Frequency", "MissingDay", "RecurrenceBasis", "Weekday"]


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


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


class RecurrenceBasis(StrEnum):
    """Whether the next due date counts from the current due date or from the completion."""

    DUE = "due"
    COMPLETION = "completion"


class MissingDay(StrEnum):
    """What a month day that a month lacks (the 31st in April, Feb 29 in 2027) becomes."""

    SKIP = "skip"  # RFC 5545: that month has no occurrence (RFC 7529 SKIP=OMIT)
    LAST_DAY = "last_day"  # the month's last day instead (RFC 7529 SKIP=BACKWARD)
