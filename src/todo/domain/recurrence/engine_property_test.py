"""The engine against independent readings of the same rules, on rules Hypothesis draws.

- `dateutil.rrule`, walking every occurrence from the series start, in zones with DST
  (Lord Howe moves by 30 minutes; Apia skipped a whole day in 2011);
- a day-by-day reading of RFC 5545 written here, for what dateutil does not do: "or the
  last day of the month" (RFC 7529 SKIP=BACKWARD), BYDAY lists mixing plain weekdays with
  nth weekdays (dateutil intersects them), and BYSETPOS over a whole first week.

Seeded (derandomize) with bounded example counts, so the suite is fast and repeatable.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil import rrule as du  # type: ignore[import-untyped, unused-ignore]
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from todo.domain.recurrence import (
    WEEKDAYS,
    Frequency,
    MissingDay,
    RecurrenceRule,
    RecurrenceUncomputable,
    next_occurrence,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia"]
FREQUENCIES: dict[str, Literal[0, 1, 2, 3]] = {
    "daily": du.DAILY,
    "weekly": du.WEEKLY,
    "monthly": du.MONTHLY,
    "yearly": du.YEARLY,
}
OCCURRENCES = 12
HORIZON_YEARS = 30
SEEDED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)

signed_month_days = st.integers(1, 31).flatmap(lambda d: st.sampled_from([d, -d]))


@st.composite
def rules(draw: st.DrawFn, *, mixed_by_day: bool, missing_days: list[MissingDay]) -> RecurrenceRule:
    frequency = draw(st.sampled_from(list(Frequency)))
    fields: dict[str, Any] = {
        "frequency": frequency,
        "interval": draw(st.sampled_from([1, 1, 1, 2, 3, 5, 13])),
        "week_start": draw(st.sampled_from(["MO", "MO", "SU", "WE"])),
        "missing_day": draw(st.sampled_from(missing_days)),
    }
    if draw(st.integers(0, 9)) < 3:
        fields["by_month"] = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
    if frequency is not Frequency.WEEKLY and draw(st.integers(0, 9)) < 4:
        fields["by_month_day"] = draw(
            st.lists(signed_month_days, min_size=1, max_size=3, unique=True)
        )
    if draw(st.integers(0, 9)) < 5:
        fields["by_day"] = draw(_by_day(frequency, "by_month" in fields, mixed=mixed_by_day))
    parts = {"by_month", "by_month_day", "by_day"} & fields.keys()
    if frequency is not Frequency.DAILY and parts and draw(st.integers(0, 9)) < 3:
        fields["by_set_position"] = draw(
            st.lists(st.sampled_from([1, 2, 3, -1, -2, 7]), min_size=1, max_size=2, unique=True)
        )
    ending = draw(st.integers(0, 9))
    if ending < 2:
        fields["count"] = draw(st.integers(1, OCCURRENCES))
    try:
        return RecurrenceRule.model_validate(fields)
    except ValidationError:
        reject()


def _by_day(frequency: Frequency, has_months: bool, *, mixed: bool) -> Any:
    plain = st.fixed_dictionaries({"weekday": st.sampled_from(WEEKDAYS)})
    if frequency in (Frequency.DAILY, Frequency.WEEKLY):
        return st.lists(plain, min_size=1, max_size=4, unique_by=lambda e: e["weekday"])
    most = 5 if frequency is Frequency.MONTHLY or has_months else 53
    ordinals = st.integers(1, most).flatmap(lambda n: st.sampled_from([n, -n]))
    nth = st.fixed_dictionaries({"weekday": st.sampled_from(WEEKDAYS), "ordinal": ordinals})
    entry = st.one_of(plain, nth) if mixed else nth
    lists = st.lists(
        entry, min_size=1, max_size=3, unique_by=lambda e: (e["weekday"], e.get("ordinal"))
    )
    if mixed:
        return lists
    return st.one_of(
        st.lists(plain, min_size=1, max_size=4, unique_by=lambda e: e["weekday"]), lists
    )


@st.composite
def starts(draw: st.DrawFn, zone: str) -> datetime:
    # Months around the DST changes of the zones above, and hours around their gaps and folds.
    year = draw(st.integers(1995, 2035))
    month = draw(st.sampled_from([1, 2, 3, 4, 9, 10, 11, 12]))
    day = draw(st.integers(1, calendar.monthrange(year, month)[1]))
    hour = draw(st.sampled_from([0, 1, 2, 3, 9, 23]))
    minute = draw(st.sampled_from([0, 30, 45]))
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=draw(st.booleans()))


def engine_chain(
    r: RecurrenceRule, start: datetime, zone: str, horizon: datetime
) -> list[datetime]:
    """Occurrences by stepping the engine, up to OCCURRENCES or past `horizon` (wall time)."""
    dues = [start.astimezone(ZoneInfo(zone))]
    while len(dues) < OCCURRENCES:
        try:
            following = next_occurrence(
                r,
                series_start=start,
                current_due=dues[-1],
                time_zone=zone,
                occurrence_number=len(dues),
            )
        except RecurrenceUncomputable as exc:
            if exc.reason != "search_exhausted":
                raise
            break
        if following is None or following.due_at.replace(tzinfo=None) > horizon:
            break
        assert following.number == len(dues) + 1
        dues.append(following.due_at)
    return dues


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The wall time kept: a time in a spring-forward gap moves on by the gap's length."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(ZoneInfo("UTC")).astimezone(tz)


def from_walls(
    r: RecurrenceRule, start: datetime, tz: ZoneInfo, walls: Any, horizon: datetime
) -> list[datetime]:
    """The series: the start, then each wall time later in real time than the one before."""
    dues = [start.astimezone(tz)]
    for wall in walls:
        if len(dues) >= min(OCCURRENCES, r.count or OCCURRENCES) or wall > horizon:
            break
        candidate = localize(wall, tz)
        if candidate.timestamp() > dues[-1].timestamp():
            dues.append(candidate)
    return dues


def dateutil_walls(r: RecurrenceRule, wall_start: datetime, horizon: datetime) -> Any:
    by_day = r.by_day or []
    weekdays = [du.weekdays[WEEKDAYS.index(e.weekday)] for e in by_day if e.ordinal is None]
    nth = [du.weekdays[WEEKDAYS.index(e.weekday)](e.ordinal) for e in by_day if e.ordinal]
    dtstart = wall_start
    if r.frequency is Frequency.WEEKLY:
        weekdays = weekdays or [du.weekdays[wall_start.weekday()]]
        # dateutil applies BYSETPOS to the part of the first week from DTSTART on; RFC 5545 to
        # the whole week: start the reference at the week's first day, same time of day.
        week_start = WEEKDAYS.index(r.week_start)
        dtstart = wall_start - timedelta(days=(wall_start.weekday() - week_start) % 7)
    return du.rrule(
        FREQUENCIES[r.frequency],
        dtstart=dtstart,
        interval=r.interval,
        wkst=WEEKDAYS.index(r.week_start),
        bymonth=r.by_month,
        bymonthday=r.by_month_day,
        byweekday=(weekdays + nth) or None,
        bysetpos=r.by_set_position,
        until=horizon,
    )


@settings(SEEDED, max_examples=250)
@given(data=st.data())
def test_engine_agrees_with_dateutil(data: st.DataObject) -> None:
    zone = data.draw(st.sampled_from(ZONES), label="zone")
    r = data.draw(rules(mixed_by_day=False, missing_days=[MissingDay.SKIP]), label="rule")
    start = data.draw(starts(zone), label="start")
    tz = ZoneInfo(zone)
    wall_start = start.astimezone(tz).replace(tzinfo=None)
    horizon = wall_start + timedelta(days=365 * HORIZON_YEARS)
    walls = (w for w in dateutil_walls(r, wall_start, horizon) if w >= wall_start)

    assert engine_chain(r, start, zone, horizon) == from_walls(r, start, tz, walls, horizon)


# --- a day-by-day reading of RFC 5545 ---------------------------------------------------------


def rfc_dates(r: RecurrenceRule, start: date, through: date) -> list[date]:
    """Every date from the start's period to `through` tested against each part, grouped by
    period for BYSETPOS: slow and plain, the opposite of the engine's arithmetic."""
    by_day = [(WEEKDAYS.index(e.weekday), e.ordinal) for e in r.by_day] if r.by_day else None
    month_days = r.by_month_day
    months = r.by_month
    if by_day is None and month_days is None:
        # RFC 5545: what the rule leaves out comes from the start.
        if r.frequency is Frequency.YEARLY:
            months, month_days = months or [start.month], [start.day]
        elif r.frequency is Frequency.MONTHLY:
            month_days = [start.day]
        elif r.frequency is Frequency.WEEKLY:
            by_day = [(start.weekday(), None)]
    in_year = r.frequency is Frequency.YEARLY and months is None
    week_start = WEEKDAYS.index(r.week_start)

    def period(d: date) -> int:
        if r.frequency is Frequency.YEARLY:
            return d.year
        if r.frequency is Frequency.MONTHLY:
            return d.year * 12 + d.month
        if r.frequency is Frequency.WEEKLY:
            return (d.toordinal() - (d.weekday() - week_start) % 7) // 7
        return d.toordinal()

    def month_day_holds(d: date) -> bool:
        length = calendar.monthrange(d.year, d.month)[1]
        return any(
            wanted == d.day
            or length + 1 + wanted == d.day
            or (r.missing_day is MissingDay.LAST_DAY and wanted > length == d.day)
            for wanted in month_days or []
        )

    def by_day_holds(d: date) -> bool:
        if in_year:
            number, length = d.timetuple().tm_yday, 366 if calendar.isleap(d.year) else 365
        else:
            number, length = d.day, calendar.monthrange(d.year, d.month)[1]
        return any(
            weekday == d.weekday()
            and (
                ordinal is None
                or (number - 1) // 7 + 1 == ordinal
                or (length - number) // 7 + 1 == -ordinal
            )
            for weekday, ordinal in by_day or []
        )

    groups: dict[int, list[date]] = {}
    day = start - timedelta(days=366)
    # Whole periods only: BYSETPOS counts from the end of the last one too.
    while day <= through + timedelta(days=366):
        steps = period(day) - period(start)
        if (
            steps >= 0
            and steps % r.interval == 0
            and (months is None or day.month in months)
            and (month_days is None or month_day_holds(day))
            and (by_day is None or by_day_holds(day))
        ):
            groups.setdefault(period(day), []).append(day)
        day += timedelta(days=1)
    result: list[date] = []
    for days in groups.values():
        if r.by_set_position is not None:
            size = len(days)
            days = sorted(
                {days[p - 1 if p > 0 else size + p] for p in r.by_set_position if abs(p) <= size}
            )
        result.extend(d for d in days if start <= d <= through)
    return result


@settings(SEEDED, max_examples=150)
@given(data=st.data())
def test_engine_agrees_with_a_day_by_day_reading_of_the_rfc(data: st.DataObject) -> None:
    r = data.draw(rules(mixed_by_day=True, missing_days=list(MissingDay)), label="rule")
    start = datetime(
        data.draw(st.integers(1995, 2035)),
        data.draw(st.integers(1, 12)),
        data.draw(st.integers(1, 28)),
        9,
        tzinfo=ZoneInfo("UTC"),
    )
    horizon = start.replace(tzinfo=None) + timedelta(days=366 * 5)
    walls = (datetime.combine(d, start.time()) for d in rfc_dates(r, start.date(), horizon.date()))

    assert engine_chain(r, start, "UTC", horizon) == from_walls(
        r, start, ZoneInfo("UTC"), walls, horizon
    )
