"""Benchmark: the cost of one recurrence step by the age of the series, and the event loop
under a storm of completions.

    ./pants run loadtests:bench-recurrence -- [--storm-tasks 40] [--years-back 1000]

Part 1 computes the next occurrence after 2026-03-10 for series that started 1, 100 and
1000 years before, with the engine (`todo.domain.recurrence`) and, in the same run, with the
algorithm it replaced (kept below as `previous_next_due`, for this comparison only: it hands
the rule to dateutil from the series start and walks every occurrence up to today). The
engine's cost must not grow with the age; the previous one grows with the occurrences since
the start. It then times the two expensive cases the engine bounds: a rare occurrence
decades ahead, and a rule whose grid never meets its days (the search runs out), and the
event loop's longest stall while one runs on the loop and while it runs in a worker thread
as the backend runs it.

Part 2 is the completion storm of `bench_completion_storm` (embedded backend in process).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil import rrule as du  # type: ignore[import-untyped, unused-ignore]

from loadtests import bench_completion_storm
from todo.domain.recurrence import (
    RecurrenceRule,
    RecurrenceUncomputable,
    next_occurrence,
)

ZONE = "Europe/Berlin"
TODAY = datetime(2026, 3, 10, 9, tzinfo=ZoneInfo(ZONE))
YEARS_BACK = (1, 100, 1000)
# (name, the rule in the shape the previous engine read, the same rule now)
RULES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("daily", {"frequency": "daily"}, {"frequency": "daily"}),
    (
        "weekly Mon, Thu",
        {"frequency": "weekly", "weekdays": ["MO", "TH"]},
        {"frequency": "weekly", "by_day": [{"weekday": "MO"}, {"weekday": "TH"}]},
    ),
    (
        "monthly, last Friday",
        {"frequency": "monthly", "nth_weekday": {"ordinal": -1, "weekday": "FR"}},
        {"frequency": "monthly", "by_day": [{"weekday": "FR", "ordinal": -1}]},
    ),
    ("yearly", {"frequency": "yearly"}, {"frequency": "yearly", "missing_day": "last_day"}),
]


# --- the previous engine, for the comparison -----------------------------------------------

_PREVIOUS_FREQ: dict[str, Literal[0, 1, 2, 3]] = {
    "daily": du.DAILY,
    "weekly": du.WEEKLY,
    "monthly": du.MONTHLY,
    "yearly": du.YEARLY,
}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DST_SLACK = timedelta(days=1, hours=1)


def _previous_month_day(day: int) -> tuple[int | list[int], int | None]:
    if day == -1 or day <= 28:
        return day, None
    return list(range(28, day + 1)), -1


def previous_next_due(rule: dict[str, Any], series_start: datetime, current_due: datetime) -> Any:
    """The previous engine's step (due basis): dateutil from DTSTART, `xafter` the due."""
    tz = ZoneInfo(ZONE)
    dtstart = series_start.astimezone(tz).replace(tzinfo=None)
    kwargs: dict[str, Any] = {}
    if rule["frequency"] == "weekly":
        days = rule.get("weekdays") or [_WEEKDAYS[dtstart.weekday()]]
        kwargs["byweekday"] = [du.weekdays[_WEEKDAYS.index(d)] for d in days]
    elif rule["frequency"] == "monthly":
        nth = rule.get("nth_weekday")
        if nth is not None:
            kwargs["byweekday"] = [du.weekdays[_WEEKDAYS.index(nth["weekday"])](nth["ordinal"])]
        else:
            kwargs["bymonthday"], kwargs["bysetpos"] = _previous_month_day(
                rule.get("month_day") or dtstart.day
            )
    elif rule["frequency"] == "yearly":
        kwargs["bymonth"] = dtstart.month
        kwargs["bymonthday"], kwargs["bysetpos"] = _previous_month_day(dtstart.day)
    walls = du.rrule(_PREVIOUS_FREQ[rule["frequency"]], dtstart=dtstart, wkst=du.MO, **kwargs)
    after = current_due.astimezone(tz).replace(tzinfo=None) - _DST_SLACK
    for wall in walls.xafter(after, inc=True):
        candidate = wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)
        if candidate.astimezone(UTC) > current_due.astimezone(UTC):
            return candidate
    return None


# --- timing ------------------------------------------------------------------------------------


def per_call(step: Callable[[], Any], *, budget_s: float, least: int) -> tuple[float, Any]:
    """The median seconds of one call of `step` over at least `least` calls or `budget_s`."""
    times: list[float] = []
    result = None
    started = time.perf_counter()
    while len(times) < least or time.perf_counter() - started < budget_s:
        before = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - before)
        if len(times) >= least and time.perf_counter() - started >= budget_s:
            break
    return statistics.median(times), result


def engine_step(rule: RecurrenceRule, start: datetime, current: datetime) -> Any:
    def step() -> Any:
        following = next_occurrence(
            rule, series_start=start, current_due=current, time_zone=ZONE, occurrence_number=2
        )
        return None if following is None else following.due_at

    return step


def step_costs(previous_budget_s: float) -> None:
    print(f"Next occurrence after {TODAY.isoformat()} ({ZONE}), median per call:")
    print(f"{'rule':<22} {'series start':<14} {'engine':>10} {'previous':>12} {'ratio':>8}")
    for name, previous_rule, current_rule in RULES:
        rule = RecurrenceRule.model_validate(current_rule)
        for years in YEARS_BACK:
            start = TODAY.replace(year=TODAY.year - years)
            engine_s, engine_due = per_call(engine_step(rule, start, TODAY), budget_s=0.3, least=50)
            previous_s, previous_due = per_call(
                lambda: previous_next_due(previous_rule, start, TODAY),  # noqa: B023
                budget_s=previous_budget_s,
                least=3,
            )
            assert engine_due == previous_due, (name, years, engine_due, previous_due)
            print(
                f"{name:<22} {years:>4} years back {engine_s * 1e6:>8.1f} us "
                f"{previous_s * 1e3:>9.2f} ms {previous_s / engine_s:>7.0f}x"
            )
    bounded = [
        (
            "Feb 29 on a Monday, 2016 -> 2044",
            {
                "frequency": "yearly",
                "by_month": [2],
                "by_month_day": [29],
                "by_day": [{"weekday": "MO"}],
            },
            datetime(2016, 2, 29, 9, tzinfo=ZoneInfo(ZONE)),
        ),
        (
            "every 7 days on Fridays, from a Monday (never)",
            {"frequency": "daily", "interval": 7, "by_day": [{"weekday": "FR"}]},
            datetime(2026, 3, 9, 9, tzinfo=ZoneInfo(ZONE)),
        ),
    ]
    print("The engine's bounded cases:")
    for name, fields, start in bounded:
        rule = RecurrenceRule.model_validate(fields)

        def step(rule: RecurrenceRule = rule, start: datetime = start) -> str:
            try:
                following = next_occurrence(
                    rule, series_start=start, current_due=start, time_zone=ZONE, occurrence_number=1
                )
            except RecurrenceUncomputable as exc:
                return f"uncomputable ({exc.reason})"
            return "none" if following is None else following.due_at.date().isoformat()

        seconds, outcome = per_call(step, budget_s=1.0, least=5)
        print(f"  {name:<48} {seconds * 1e3:8.2f} ms -> {outcome}")
        inline, threaded = asyncio.run(loop_stalls(step))
        print(
            f"  {'':<48} longest loop stall: {inline:6.1f} ms on the loop, "
            f"{threaded:6.1f} ms in a worker thread (as the backend runs it)"
        )


async def loop_stalls(step: Callable[[], Any]) -> tuple[float, float]:
    """The longest stall of a ticking event loop while `step` runs on it, then off it."""
    with bench_completion_storm.LoopLag() as inline:
        await asyncio.sleep(0.01)
        step()
        await asyncio.sleep(0.01)
    with bench_completion_storm.LoopLag() as threaded:
        await asyncio.sleep(0.01)
        await asyncio.to_thread(step)
        await asyncio.sleep(0.01)
    return max(inline.lags_ms), max(threaded.lags_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--previous-budget", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument("--storm-tasks", type=int, default=40)
    parser.add_argument("--years-back", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    step_costs(args.previous_budget)
    print()
    asyncio.run(
        bench_completion_storm.storm(
            argparse.Namespace(
                tasks=args.storm_tasks, years_back=args.years_back, concurrency=args.concurrency
            )
        )
    )


if __name__ == "__main__":
    main()
