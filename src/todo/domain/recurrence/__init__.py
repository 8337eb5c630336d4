"""Recurring tasks: RFC 5545 rules, their RRULE text, and the next occurrence of a series.

`terms` names the words of a rule, `rule` holds the structured rule and its validation,
`rrule` the text form, `describe` the English summary, `expansion` the calendar arithmetic
of one period, and `engine` the step from one occurrence to the next in wall time.
"""

from todo.domain.recurrence.describe import describe
from todo.domain.recurrence.engine import (
    SEARCH_PERIODS,
    SEARCH_YEARS,
    Occurrence,
    RecurrenceUncomputable,
    next_occurrence,
)
from todo.domain.recurrence.rrule import format_rrule, parse_rrule
from todo.domain.recurrence.rule import ByDay, RecurrenceRule
from todo.domain.recurrence.terms import (
    WEEKDAYS,
    Frequency,
    MissingDay,
    RecurrenceBasis,
    Weekday,
)

__all__ = [
    "SEARCH_PERIODS",
    "SEARCH_YEARS",
    "WEEKDAYS",
    "ByDay",
    "Frequency",
    "MissingDay",
    "Occurrence",
    "RecurrenceBasis",
    "RecurrenceRule",
    "RecurrenceUncomputable",
    "Weekday",
    "describe",
    "format_rrule",
    "next_occurrence",
    "parse_rrule",
]
