"""The password policy: a length range and no password from the lists attackers try first.

The common-password check uses zxcvbn's list of leaked passwords (and its matching of
l33t spellings and reversals: "P@ssw0rd" is "password"), refusing a password that is
one whole entry of that list or a repeat of one, and one that zxcvbn scores 0 (runs and
repeats such as "abcdefgh" or "aaaaaaaa"). Longer passwords are not checked:
zxcvbn's cost grows with length, and no listed password is that long.
"""

from __future__ import annotations

from typing import Any

from zxcvbn import zxcvbn  # type: ignore[import-untyped]

MIN_LENGTH = 8
MAX_LENGTH = 128
_CHECKED_LENGTH = 64


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why this password is refused, in words for the person choosing it; None if fine."""
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"use at most {MAX_LENGTH} characters"
    if not password.strip():
        return "use something other than spaces"
    local_part = email.partition("@")[0].lower()
    if local_part and password.lower() in {local_part, email.lower()}:
        return "do not use your email address as your password"
    if len(password) > _CHECKED_LENGTH:
        return None
    result: dict[str, Any] = zxcvbn(password, max_length=_CHECKED_LENGTH)
    if _is_common(result["sequence"]):
        return "this password is on lists of common passwords: choose one that is not"
    if result["score"] == 0:
        return "this password is too easy to guess (a run or repeat of characters)"
    return None


def _is_common(matches: list[dict[str, Any]]) -> bool:
    if len(matches) != 1:
        return False
    match = matches[0]
    if match.get("pattern") == "repeat":
        base = match.get("base_matches") or []
        return len(base) == 1 and base[0].get("dictionary_name") == "passwords"
    return match.get("pattern") == "dictionary" and match.get("dictionary_name") == "passwords"
