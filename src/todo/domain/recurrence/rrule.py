"""The RFC 5545 text form of a rule (the RRULE value, e.g. `FREQ=MONTHLY;BYDAY=-2MO`).

`format_rrule` writes one canonical text per rule and `parse_rrule` reads it back to an
equal rule; any RFC 5545 spelling of a supported rule is read (parts in any order, lower
case, an `RRULE:` prefix). "Or the last day of the month" is RFC 7529's
`RSCALE=GREGORIAN;SKIP=BACKWARD`. A part the engine does not support is refused by name.
`basis` has no RRULE form and travels beside the text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ValidationError

from todo.domain.recurrence.rule import RecurrenceRule
from todo.domain.recurrence.terms import Frequency, MissingDay, RecurrenceBasis, Weekday

__all__ = ["format_rrule", "parse_rrule"]

_SUPPORTED = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
    "RSCALE",
    "SKIP",
)
_UNSUPPORTED = {
    "BYSECOND": "the time of day comes from the task's due date",
    "BYMINUTE": "the time of day comes from the task's due date",
    "BYHOUR": "the time of day comes from the task's due date",
    "BYYEARDAY": "use BYMONTH with BYMONTHDAY",
    "BYWEEKNO": "use BYMONTH with BYDAY",
}
# Field names as they appear in the model's messages, in RRULE words.
_FIELD_OF_PART = {
    "by_month_day": "BYMONTHDAY",
    "by_set_position": "BYSETPOS",
    "by_month": "BYMONTH",
    "by_day": "BYDAY",
    "week_start": "WKST",
    "missing_day 'last_day'": "SKIP=BACKWARD",
}
_FIELD_NAMES = re.compile("|".join(rf"(?<!\w){re.escape(name)}(?!\w)" for name in _FIELD_OF_PART))
_BYDAY_RE = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INT_RE = re.compile(r"[+-]?\d{1,4}")
_UNTIL_RE = re.compile(r"\d{8}T\d{6}Z")
_MAX_TEXT = 1000


def format_rrule(rule: RecurrenceRule) -> str:
    """The RRULE value (without "RRULE:") for `rule`; its `basis` is not part of it."""
    parts = []
    if rule.missing_day is MissingDay.LAST_DAY:
        parts.append("RSCALE=GREGORIAN")
    parts.append(f"FREQ={rule.frequency.name}")
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.by_month is not None:
        parts.append("BYMONTH=" + ",".join(map(str, rule.by_month)))
    if rule.by_month_day is not None:
        parts.append("BYMONTHDAY=" + ",".join(map(str, rule.by_month_day)))
    if rule.by_day is not None:
        parts.append("BYDAY=" + ",".join(map(str, rule.by_day)))
    if rule.by_set_position is not None:
        parts.append("BYSETPOS=" + ",".join(map(str, rule.by_set_position)))
    if rule.week_start is not Weekday.MO:
        parts.append(f"WKST={rule.week_start}")
    if rule.until is not None:
        u = rule.until.astimezone(UTC)
        # Not strftime: %Y does not zero-pad years before 1000 on every platform.
        parts.append(
            f"UNTIL={u.year:04d}{u.month:02d}{u.day:02d}T{u.hour:02d}{u.minute:02d}{u.second:02d}Z"
        )
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if rule.missing_day is MissingDay.LAST_DAY:
        parts.append("SKIP=BACKWARD")
    return ";".join(parts)


def parse_rrule(text: str, basis: RecurrenceBasis = RecurrenceBasis.DUE) -> RecurrenceRule:
    """The rule an RRULE value states; ValueError names the part that is wrong or unsupported."""
    parts = _split(text)
    if "FREQ" not in parts:
        raise ValueError("RRULE must have a FREQ part, e.g. FREQ=WEEKLY")
    try:
        frequency = Frequency(parts["FREQ"].lower())
    except ValueError:
        raise ValueError(
            f"FREQ={parts['FREQ']} is not supported (supported: DAILY, WEEKLY, MONTHLY, YEARLY)"
        ) from None
    fields: dict[str, object] = {"frequency": frequency, "basis": basis}
    if "INTERVAL" in parts:
        fields["interval"] = _positive("INTERVAL", parts["INTERVAL"])
    if "COUNT" in parts:
        fields["count"] = _positive("COUNT", parts["COUNT"])
    if "UNTIL" in parts:
        fields["until"] = _until(parts["UNTIL"])
    if "BYDAY" in parts:
        fields["by_day"] = [_by_day(item) for item in parts["BYDAY"].split(",")]
    for part, field in (
        ("BYMONTHDAY", "by_month_day"),
        ("BYMONTH", "by_month"),
        ("BYSETPOS", "by_set_position"),
    ):
        if part in parts:
            fields[field] = [_integer(part, item) for item in parts[part].split(",")]
    if "WKST" in parts:
        fields["week_start"] = _weekday("WKST", parts["WKST"])
    fields["missing_day"] = _missing_day(parts)
    try:
        return RecurrenceRule.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(_summary(exc)) from None


def _split(text: str) -> dict[str, str]:
    if len(text) > _MAX_TEXT:
        raise ValueError(f"RRULE is longer than {_MAX_TEXT} characters")
    body = text.strip()
    if "\n" in body or body[:8].upper() == "DTSTART:" or body[:8].upper() == "DTSTART;":
        raise ValueError(
            "give only the RRULE value, e.g. FREQ=WEEKLY;BYDAY=MO: the start (DTSTART) is the "
            "task's due date"
        )
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if not body:
        raise ValueError("RRULE is empty")
    parts: dict[str, str] = {}
    for raw in body.split(";"):
        name, sep, value = (piece.strip().upper() for piece in raw.partition("="))
        if not sep or not name or not value:
            raise ValueError(f"RRULE part {raw.strip()!r} is not of the form NAME=VALUE")
        if name in _UNSUPPORTED:
            raise ValueError(f"RRULE part {name} is not supported: {_UNSUPPORTED[name]}")
        if name not in _SUPPORTED:
            raise ValueError(
                f"RRULE part {name} is not supported (supported: {', '.join(_SUPPORTED)})"
            )
        if name in parts:
            raise ValueError(f"RRULE part {name} appears more than once")
        parts[name] = value
    return parts


def _integer(part: str, value: str) -> int:
    if not _INT_RE.fullmatch(value.strip()):
        raise ValueError(f"{part} values must be integers, got {value!r}")
    return int(value)


def _positive(part: str, value: str) -> int:
    if not value.isdigit() or len(value) > 6:
        raise ValueError(f"{part} must be a positive integer, got {value!r}")
    return int(value)


def _weekday(part: str, value: str) -> Weekday:
    try:
        return Weekday(value.strip())
    except ValueError:
        raise ValueError(f"{part} must be a weekday (MO..SU), got {value!r}") from None


def _by_day(item: str) -> dict[str, object]:
    match = _BYDAY_RE.fullmatch(item.strip())
    if match is None:
        raise ValueError(f"BYDAY value {item!r} is not a weekday such as MO, 2TU or -1FR")
    ordinal, weekday = match.groups()
    return {"weekday": weekday, "ordinal": int(ordinal) if ordinal is not None else None}


def _missing_day(parts: dict[str, str]) -> MissingDay:
    scale = parts.get("RSCALE", "GREGORIAN")
    if scale != "GREGORIAN":
        raise ValueError(f"RSCALE={scale} is not supported (only GREGORIAN)")
    skip = parts.get("SKIP", "OMIT")
    if skip == "OMIT":
        return MissingDay.SKIP
    if skip == "BACKWARD":
        return MissingDay.LAST_DAY
    raise ValueError(f"SKIP={skip} is not supported (OMIT, or BACKWARD for a month's last day)")


def _until(value: str) -> datetime:
    problem = f"UNTIL must be a UTC date-time such as 20270101T000000Z, got {value!r}"
    if not _UNTIL_RE.fullmatch(value):
        raise ValueError(problem)
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(problem) from None


def _summary(exc: ValidationError) -> str:
    """The model's complaints in RRULE words: `by_day: ...` reads `BYDAY: ...`."""
    messages = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = ".".join(str(part) for part in error["loc"])
        text = (
            message if not loc or message.startswith(str(error["loc"][0])) else f"{loc}: {message}"
        )
        messages.append(_FIELD_NAMES.sub(lambda m: _FIELD_OF_PART[m.group(0)], text))
    return "; ".join(messages)
