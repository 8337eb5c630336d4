from __future__ import annotations

import argparse

import pytest

from loadtests.run import (
    EXIT_BREACH,
    EXIT_FAILED,
    EXIT_OK,
    PROFILES,
    Settings,
    build_parser,
    parse_duration,
    parse_wait,
    until_met,
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("3m", 180), ("1m30s", 90), ("1h", 3600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "soon", "3x", "-5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_wait() -> None:
    assert parse_wait("0.1,0.5") == (0.1, 0.5)
    for bad in ("0.5", "0.5,0.1", "a,b", "-1,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_wait(bad)


def test_the_profile_gives_defaults_and_flags_override_them() -> None:
    argv = ["--profile", "full", "--users", "7", "--out", "reports/x"]
    settings = Settings.from_args(build_parser().parse_args(argv), argv)
    assert settings.users == 7
    assert settings.duration_s == PROFILES["full"].duration_s
    assert settings.wait == PROFILES["full"].wait
    assert settings.command == "python -m loadtests.run --profile full --users 7 --out reports/x"


def test_the_smoke_profile_fits_ci() -> None:
    assert PROFILES["smoke"].duration_s <= 60


def test_a_breach_fails_the_gate_only_when_every_attempt_breached() -> None:
    def runs(codes: list[int]) -> tuple[int, list[int]]:
        seen: list[int] = []

        def run_once(attempt: int) -> int:
            seen.append(attempt)
            return codes[attempt - 1]

        return until_met(run_once, attempts=len(codes)), seen

    assert runs([EXIT_BREACH, EXIT_OK]) == (EXIT_OK, [1, 2])
    assert runs([EXIT_BREACH, EXIT_BREACH]) == (EXIT_BREACH, [1, 2])
    assert runs([EXIT_OK, EXIT_BREACH]) == (EXIT_OK, [1])
    # A run that failed outright is not retried: the target is broken, not noisy.
    assert runs([EXIT_FAILED, EXIT_OK]) == (EXIT_FAILED, [1])
    assert runs([EXIT_BREACH, EXIT_FAILED, EXIT_OK]) == (EXIT_FAILED, [1, 2])


def test_attempts_are_bounded() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--attempts", "0"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--attempts", "9"])
    assert build_parser().parse_args(["--attempts", "2"]).attempts == 2
