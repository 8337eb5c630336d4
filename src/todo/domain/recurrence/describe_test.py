from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from todo.domain.recurrence import RecurrenceRule, describe, parse_rrule

NY = "America/New_York"


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("FREQ=DAILY", "Every day"),
        ("FREQ=DAILY;INTERVAL=2", "Every 2 days"),
        ("FREQ=WEEKLY", "Every week"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE,MO", "Every 2 weeks on Mon, Wed"),
        ("FREQ=WEEKLY;BYDAY=SA,SU", "Every week on Sat, Sun"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "Every weekday"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR", "Every 2 weeks on weekdays"),
        ("FREQ=WEEKLY;BYMONTH=12;BYDAY=MO,TU,WE,TH,FR", "Every weekday in December"),
        ("FREQ=MONTHLY", "Every month"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "Every month on the last day"),
        ("FREQ=MONTHLY;BYMONTHDAY=-3", "Every month on the 3rd to last day"),
        ("FREQ=MONTHLY;BYMONTHDAY=1", "Every month on the 1st"),
        ("FREQ=MONTHLY;BYMONTHDAY=2", "Every month on the 2nd"),
        ("FREQ=MONTHLY;BYMONTHDAY=3", "Every month on the 3rd"),
        ("FREQ=MONTHLY;BYMONTHDAY=11", "Every month on the 11th"),
        ("FREQ=MONTHLY;BYMONTHDAY=12", "Every month on the 12th"),
        ("FREQ=MONTHLY;BYMONTHDAY=13", "Every month on the 13th"),
        ("FREQ=MONTHLY;BYMONTHDAY=22", "Every month on the 22nd"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15,-1", "Every month on the 1st, 15th and last day"),
        ("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=31", "Every 3 months on the 31st"),
        (
            "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;SKIP=BACKWARD",
            "Every month on the 31st (or the month's last day)",
        ),
        ("FREQ=MONTHLY;BYDAY=2TU", "Every month on the 2nd Tuesday"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "Every month on the last Friday"),
        ("FREQ=MONTHLY;BYDAY=-2MO", "Every month on the 2nd to last Monday"),
        ("FREQ=MONTHLY;BYDAY=MO,1TU", "Every month on Mon and the 1st Tuesday"),
        ("FREQ=MONTHLY;BYDAY=1MO,-1FR", "Every month on the 1st Monday and last Friday"),
        ("FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR", "Every month on the 13th if it is Fri"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "Every month on the last weekday"),
        ("FREQ=MONTHLY;BYDAY=SA,SU;BYSETPOS=1,-1", "Every month on the 1st and last of Sat, Sun"),
        ("FREQ=YEARLY", "Every year"),
        ("FREQ=YEARLY;INTERVAL=4", "Every 4 years"),
        (
            "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU",
            "Every year in March and October on the last Sunday",
        ),
        ("FREQ=YEARLY;BYDAY=20MO", "Every year on the 20th Monday"),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
            "Every 2 weeks on Tue, Sun, weeks starting Sunday",
        ),
        ("FREQ=DAILY;COUNT=5", "Every day, 5 times"),
        ("FREQ=DAILY;COUNT=1", "Every day, once"),
        ("FREQ=DAILY;UNTIL=20270101T000000Z", "Every day, until 2027-01-01"),
    ],
)
def test_describe(text: str, summary: str) -> None:
    assert describe(parse_rrule(text)) == summary


@pytest.mark.parametrize(
    ("kwargs", "summary"),
    [
        (
            {"frequency": "daily", "until": datetime(2027, 1, 1, 23, 59, tzinfo=ZoneInfo(NY))},
            "Every day, until 2027-01-01",
        ),
        ({"frequency": "daily", "basis": "completion"}, "Every day (from completion)"),
        (
            {
                "frequency": "weekly",
                "by_day": [{"weekday": "TH"}],
                "count": 10,
                "basis": "completion",
            },
            "Every week on Thu, 10 times (from completion)",
        ),
        (
            {"frequency": "daily", "until": datetime(2027, 1, 1, tzinfo=UTC)},
            "Every day, until 2027-01-01",
        ),
    ],
)
def test_describe_what_the_text_does_not_carry(kwargs: dict[str, Any], summary: str) -> None:
    assert describe(RecurrenceRule.model_validate(kwargs)) == summary
