"""The dates a rule selects, one period (year, month, week) at a time, from any date on.

Pure calendar arithmetic on dates: no time of day, no zone. The periods of a series are
those of its start stepped by the interval, so the first period a search needs is found
by division from the series start, never by walking from it. Within a period the rule's
parts intersect, each a union of its own values (RFC 5545 section 3.3.10); BYSETPOS then
picks from the period's sorted set.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from todo.domain.recurrence.terms import WEEKDAYS, Frequency, MissingDay

if TYPE_CHECKING:
    from todo.domain.recurrence.rule import RecurrenceRule

_LAST_ORDINAL = date.max.toordinal()


@dataclass(frozen=True)
class Selection:
    """A rule with what it leaves out filled in from the series start (RFC 5545: "information,
    not contained in the rule, ... is derived from DTSTART")."""

    frequency: Frequency
    interval: int
    start: date
    months: frozenset[int] | None
    month_days: tuple[int, ...] | None
    by_day: bool
    weekdays: frozenset[int]  # BYDAY entries without an ordinal
    nth_weekdays: tuple[tuple[int, int], ...]  # (weekday, ordinal)
    year_ordinals: bool  # ordinals count within the year, not the month
    set_positions: tuple[int, ...] | None
    week_start: int
    last_day: bool

    @classmethod
    def of(cls, rule: RecurrenceRule, start: date, *, interval: int | None = None) -> Selection:
        by_day = rule.by_day
        month_days = rule.by_month_day
        months = rule.by_month
        if by_day is None and month_days is None:
            if rule.frequency is Frequency.YEARLY:
                months = months or [start.month]
                month_days = [start.day]
            elif rule.frequency is Frequency.MONTHLY:
                month_days = [start.day]
        weekdays: set[int] = set()
        nth: list[tuple[int, int]] = []
        for entry in by_day or []:
            index = WEEKDAYS.index(entry.weekday)
            if entry.ordinal is None:
                weekdays.add(index)
            else:
                nth.append((index, entry.ordinal))
        if rule.frequency is Frequency.WEEKLY and by_day is None:
            weekdays.add(start.weekday())
        return cls(
            frequency=rule.frequency,
            interval=interval or rule.interval,
            start=start,
            months=frozenset(months) if months else None,
            month_days=tuple(month_days) if month_days else None,
            by_day=bool(weekdays or nth),
            weekdays=frozenset(weekdays),
            nth_weekdays=tuple(nth),
            year_ordinals=bool(nth) and rule.ordinal_scope == 53,
            set_positions=tuple(rule.by_set_position) if rule.by_set_position else None,
            week_start=WEEKDAYS.index(rule.week_start),
            last_day=rule.missing_day is MissingDay.LAST_DAY,
        )

    def dates(self, since: date, through: date) -> Iterator[date]:
        """The selected dates d, in order, with max(start, since) <= d <= through."""
        lowest = max(self.start, since)
        if lowest > through:
            return
        periods = {
            Frequency.YEARLY: self._yearly,
            Frequency.MONTHLY: self._monthly,
            Frequency.WEEKLY: self._weekly,
            Frequency.DAILY: self._daily,
        }[self.frequency]
        for day in periods(lowest, through):
            if day > through:
                return
            if day >= lowest:
                yield day

    # --- periods --------------------------------------------------------------------------

    def _first_step(self, offset: int) -> int:
        """The first step k >= 0 with k * interval >= offset (periods since the start's)."""
        return max(0, -(-offset // self.interval))

    def _yearly(self, lowest: date, through: date) -> Iterator[date]:
        year = self.start.year + self._first_step(lowest.year - self.start.year) * self.interval
        while year <= through.year:
            yield from self._pick(self._year(year))
            year += self.interval

    def _monthly(self, lowest: date, through: date) -> Iterator[date]:
        first = self.start.year * 12 + self.start.month - 1
        last = through.year * 12 + through.month - 1
        index = (
            first + self._first_step(lowest.year * 12 + lowest.month - 1 - first) * self.interval
        )
        while index <= last:
            year, month = divmod(index, 12)
            if self.months is None or month + 1 in self.months:
                yield from self._pick(self._month(year, month + 1, None))
            index += self.interval

    def _weekly(self, lowest: date, through: date) -> Iterator[date]:
        first = self._week_of(self.start)
        step = 7 * self.interval
        week = first + self._first_step((self._week_of(lowest) - first) // 7) * step
        while week <= through.toordinal():
            days = []
            for ordinal in range(week, min(week + 7, _LAST_ORDINAL + 1)):
                day = date.fromordinal(ordinal)
                if day.weekday() in self.weekdays and (
                    self.months is None or day.month in self.months
                ):
                    days.append(day)
            yield from self._pick(days)
            week += step

    def _daily(self, lowest: date, through: date) -> Iterator[date]:
        # Month by month, so that a month the rule excludes costs one test, not 31.
        start = self.start.toordinal()
        index = lowest.year * 12 + lowest.month - 1
        last = through.year * 12 + through.month - 1
        while index <= last:
            year, month = divmod(index, 12)
            if self.months is None or month + 1 in self.months:
                for day in self._month(year, month + 1, None):
                    if (day.toordinal() - start) % self.interval == 0:
                        yield day
            index += 1

    def _week_of(self, day: date) -> int:
        """The ordinal of the first day (per WKST) of the week holding `day`."""
        return day.toordinal() - (day.weekday() - self.week_start) % 7

    # --- days of one period ---------------------------------------------------------------

    def _year(self, year: int) -> list[date]:
        year_nth = self._year_nth_weekdays(year) if self.year_ordinals else None
        days: list[date] = []
        for month in sorted(self.months) if self.months else range(1, 13):
            days.extend(self._month(year, month, year_nth))
        return days

    def _month(self, year: int, month: int, year_nth: frozenset[date] | None) -> list[date]:
        """The month's days that BYMONTHDAY and BYDAY select (ordinals counted in the month,
        or in the year when `year_nth` holds the year's nth weekdays)."""
        first_weekday, length = calendar.monthrange(year, month)
        if self.month_days is not None:
            days = [date(year, month, n) for n in self._month_day_numbers(length)]
            if self.by_day:
                days = [d for d in days if self._by_day_holds(d, first_weekday, length, year_nth)]
            return days
        if not self.by_day:
            return [date(year, month, n) for n in range(1, length + 1)]
        chosen: set[int] = set()
        for weekday in self.weekdays:
            chosen.update(range(1 + (weekday - first_weekday) % 7, length + 1, 7))
        if year_nth is not None:
            chosen.update(d.day for d in year_nth if d.month == month)
        else:
            for weekday, ordinal in self.nth_weekdays:
                number = _nth_weekday(first_weekday, length, weekday, ordinal)
                if number is not None:
                    chosen.add(number)
        return [date(year, month, n) for n in sorted(chosen)]

    def _month_day_numbers(self, length: int) -> list[int]:
        numbers: set[int] = set()
        for day in self.month_days or ():
            if day > 0:
                if day <= length:
                    numbers.add(day)
                elif self.last_day:
                    numbers.add(length)
            elif -day <= length:
                numbers.add(length + 1 + day)
        return sorted(numbers)

    def _by_day_holds(
        self, day: date, first_weekday: int, length: int, year_nth: frozenset[date] | None
    ) -> bool:
        weekday = day.weekday()
        if weekday in self.weekdays:
            return True
        if year_nth is not None:
            return day in year_nth
        number = day.day
        return any(
            _nth_weekday(first_weekday, length, nth_day, ordinal) == number
            for nth_day, ordinal in self.nth_weekdays
            if nth_day == weekday
        )

    def _year_nth_weekdays(self, year: int) -> frozenset[date]:
        first = date(year, 1, 1)
        last = date(year, 12, 31)
        days: set[date] = set()
        for weekday, ordinal in self.nth_weekdays:
            if ordinal > 0:
                day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (ordinal - 1))
            else:
                day = last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-ordinal - 1))
            if day.year == year:
                days.add(day)
        return frozenset(days)

    def _pick(self, days: list[date]) -> list[date]:
        """BYSETPOS: the given positions of the period's sorted set (1 first, -1 last)."""
        if self.set_positions is None:
            return days
        size = len(days)
        picked = {
            days[position - 1 if position > 0 else size + position]
            for position in self.set_positions
            if -size <= position <= size
        }
        return sorted(picked)


def _nth_weekday(first_weekday: int, length: int, weekday: int, ordinal: int) -> int | None:
    """The day number of the nth `weekday` of a month (from its end when negative)."""
    if ordinal > 0:
        number = 1 + (weekday - first_weekday) % 7 + 7 * (ordinal - 1)
    else:
        last_weekday = (first_weekday + length - 1) % 7
        number = length - (last_weekday - weekday) % 7 - 7 * (-ordinal - 1)
    return number if 1 <= number <= length else None
