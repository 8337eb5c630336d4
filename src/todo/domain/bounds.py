"""The ranges every input is held to, so that whatever is accepted can be stored, computed
on and listed again.

- Instants lie in [EARLIEST, LATEST): far from `datetime.min`/`max`, so reminders up to a
  year before, recurrence steps and time-zone conversions never overflow. They must be
  given as RFC 3339 text with an offset (a JSON number is refused, not read as a Unix
  time).
- Text holds no NUL and no lone surrogate (neither can be stored in PostgreSQL or encoded
  as UTF-8), and no control character other than tab, line feed and carriage return.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
RANGE_TEXT = "between 1000-01-01T00:00:00Z and 8999-12-31T23:59:59Z"

# Control characters (Unicode category Cc) but tab, LF and CR, and the surrogate block.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _instant_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(
            "must be a date-time string with an offset, such as 2030-01-31T09:00:00+01:00"
        )
    return value


def in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be {RANGE_TEXT}")
    return value


def within_range(value: datetime) -> bool:
    return EARLIEST <= value < LATEST


Instant = Annotated[AwareDatetime, BeforeValidator(_instant_text), AfterValidator(in_range)]
"""An aware date-time within the supported range, given as text."""


def check_text(value: str) -> str:
    found = _UNSAFE.search(value)
    if found is not None:
        char = found.group()
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "the control character"
        raise ValueError(f"contains {what} U+{ord(char):04X} at position {found.start()}")
    return value


SafeText = Annotated[str, AfterValidator(check_text)]
"""A string that can be stored and sent back as it is."""
