from __future__ import annotations

import math
from pathlib import Path

import pytest

from loadtests.slo import (
    DEFAULT_SLO_FILE,
    ProbeSamples,
    RequestStats,
    SloFile,
    SloFileError,
    SloResult,
    StatsSnapshot,
    Verdict,
    breaches,
    evaluate,
    histogram_percentile,
    load_slo,
    merge_histograms,
    parse_slo,
    requests_to_judge,
    sample_percentile,
    uncovered_names,
)

SLO_TEXT = """
version: 1
throughput_min_rps: 100
error_ratio_max: 0.01
groups:
  "tasks:list": {p95_ms: 50, p99_ms: 100}
  "tasks:write":
    requests: ["tasks:create", "tasks:update"]
    p95_ms: 80
probes:
  "reminder:lateness": {p99_ms: 1000, min_samples: 3}
"""


def slo() -> SloFile:
    return parse_slo(SLO_TEXT)


def entry(name: str, times: dict[int, int], failures: int = 0) -> RequestStats:
    return RequestStats(
        name=name,
        method="GET",
        count=sum(times.values()),
        failures=failures,
        response_times=times,
    )


def healthy(duration_s: float = 10.0) -> StatsSnapshot:
    """1000 list requests (96% at 10 ms, 4% at 40), 500 creates and 500 updates at 20 ms."""
    return StatsSnapshot(
        duration_s=duration_s,
        requests=[
            entry("tasks:list", {10: 960, 40: 40}),
            entry("tasks:create", {20: 500}),
            entry("tasks:update", {20: 500}),
        ],
    )


def by_name(results: list[SloResult], name: str) -> SloResult:
    (found,) = (r for r in results if r.slo == name)
    return found


def test_the_checked_in_slo_file_loads() -> None:
    slo_file = load_slo(DEFAULT_SLO_FILE)
    assert slo_file.throughput_min_rps == 500
    assert slo_file.error_ratio_max == 0
    assert slo_file.groups["tasks:list"].p95_ms == 50
    assert {"auth:login", "tasks:create", "notifications:list"} <= set(slo_file.groups)
    assert "reminder:lateness" in slo_file.probes


def test_a_healthy_run_passes_every_slo() -> None:
    results = evaluate(slo(), healthy(), {"reminder:lateness": ProbeSamples(values_ms=[5, 6, 7])})
    assert breaches(results) == []
    assert {r.slo for r in results} == {
        "throughput",
        "error ratio",
        "tasks:list p95",
        "tasks:list p99",
        "tasks:write p95",
        "reminder:lateness p99",
        "reminder:lateness lost",
    }
    assert by_name(results, "tasks:list p95").measured == 10
    assert by_name(results, "tasks:list p99").measured == 40
    assert by_name(results, "throughput").measured == 200


def test_a_breached_latency_threshold_fails_and_names_value_and_threshold() -> None:
    snapshot = healthy()
    snapshot.requests[0] = entry("tasks:list", {10: 900, 120: 100})
    results = evaluate(slo(), snapshot)
    breached = breaches(results)
    assert [r.slo for r in breached] == ["tasks:list p95", "tasks:list p99"]
    p95 = breached[0]
    assert p95.verdict is Verdict.FAIL
    assert p95.measured == 120
    assert p95.describe() == "tasks:list p95: measured 120 ms, threshold < 50 ms -> FAIL"
    # Only p95 above its bound: only p95 breached.
    snapshot.requests[0] = entry("tasks:list", {10: 900, 75: 100})
    assert [r.slo for r in breaches(evaluate(slo(), snapshot))] == ["tasks:list p95"]


def test_the_threshold_is_a_strict_upper_bound() -> None:
    snapshot = healthy()
    snapshot.requests[0] = entry("tasks:list", {50: 1000})
    assert by_name(evaluate(slo(), snapshot), "tasks:list p95").verdict is Verdict.FAIL
    snapshot.requests[0] = entry("tasks:list", {49: 1000})
    assert by_name(evaluate(slo(), snapshot), "tasks:list p95").verdict is Verdict.PASS


def test_a_group_pools_its_request_names() -> None:
    snapshot = healthy()
    snapshot.requests[2] = entry("tasks:update", {200: 500})  # half of the group is slow
    result = by_name(evaluate(slo(), snapshot), "tasks:write p95")
    assert result.verdict is Verdict.FAIL
    assert result.measured == 200


def test_a_percentile_of_too_few_requests_is_shown_but_not_judged() -> None:
    # 30 requests: a p95 has 1.5 beyond it (fewer than the 2 required: 40 needed), so
    # the one slow request is the p95 itself and says nothing about the 95th percentile.
    snapshot = healthy()
    snapshot.requests[0] = entry("tasks:list", {10: 29, 400: 1})
    result = by_name(evaluate(slo(), snapshot), "tasks:list p95")
    assert result.verdict is Verdict.NOT_APPLICABLE
    assert not result.breached
    assert result.measured == 10
    assert result.detail == "too few requests to judge a p95: 30 < 40"
    p99 = by_name(evaluate(slo(), snapshot), "tasks:list p99")
    assert p99.measured == 400
    assert p99.detail == "too few requests to judge a p99: 30 < 200"
    # From 40 requests on, the p95 is judged, and fails if it must.
    snapshot.requests[0] = entry("tasks:list", {10: 37, 400: 3})
    assert by_name(evaluate(slo(), snapshot), "tasks:list p95").verdict is Verdict.FAIL


@pytest.mark.parametrize(
    ("percent", "tail", "needed"), [(95, 2, 40), (99, 2, 200), (50, 2, 4), (95, 1, 20)]
)
def test_requests_needed_to_judge_a_percentile(percent: int, tail: int, needed: int) -> None:
    assert requests_to_judge(percent, tail) == needed


def test_error_ratio_above_the_maximum_fails() -> None:
    snapshot = healthy()
    snapshot.requests[1] = entry("tasks:create", {20: 500}, failures=40)  # 2% of 2000
    result = by_name(evaluate(slo(), snapshot), "error ratio")
    assert result.verdict is Verdict.FAIL
    assert result.measured == pytest.approx(0.02)
    assert "40 of 2000" in result.detail
    snapshot.requests[1] = entry("tasks:create", {20: 500}, failures=20)  # exactly 1%
    assert by_name(evaluate(slo(), snapshot), "error ratio").verdict is Verdict.PASS


def test_zero_errors_allowed_means_one_error_fails() -> None:
    strict = slo().model_copy(update={"error_ratio_max": 0.0})
    snapshot = healthy()
    assert by_name(evaluate(strict, snapshot), "error ratio").verdict is Verdict.PASS
    snapshot.requests[1] = entry("tasks:create", {20: 500}, failures=1)
    assert by_name(evaluate(strict, snapshot), "error ratio").verdict is Verdict.FAIL


def test_throughput_below_the_floor_fails() -> None:
    result = by_name(evaluate(slo(), healthy(duration_s=40.0)), "throughput")
    assert result.verdict is Verdict.FAIL
    assert result.measured == 50
    assert result.describe().startswith("throughput: measured 50 req/s, threshold >= 100 req/s")


def test_a_missing_endpoint_group_is_a_breach_that_says_so() -> None:
    snapshot = healthy()
    del snapshot.requests[0]
    results = evaluate(slo(), snapshot)
    missing = by_name(results, "tasks:list p95")
    assert missing.verdict is Verdict.MISSING
    assert missing.breached
    assert missing.measured is None
    assert "no request named tasks:list was recorded" in missing.describe()
    assert missing in breaches(results)


def test_probes_not_measured_on_a_target_are_not_applicable() -> None:
    results = evaluate(slo(), healthy(), probes={})
    result = by_name(results, "reminder:lateness p99")
    assert result.verdict is Verdict.NOT_APPLICABLE
    assert not result.breached
    assert breaches(results) == []


def test_probe_breaches_too_few_samples_and_lost_ones() -> None:
    slow = {"reminder:lateness": ProbeSamples(values_ms=[100, 200, 1500])}
    assert by_name(evaluate(slo(), healthy(), slow), "reminder:lateness p99").verdict is (
        Verdict.FAIL
    )
    few = {"reminder:lateness": ProbeSamples(values_ms=[1.0])}
    result = by_name(evaluate(slo(), healthy(), few), "reminder:lateness p99")
    assert result.verdict is Verdict.MISSING
    assert "fewer than 3" in result.detail
    lost = {"reminder:lateness": ProbeSamples(values_ms=[1, 2, 3], lost=2)}
    assert by_name(evaluate(slo(), healthy(), lost), "reminder:lateness lost").breached


def test_uncovered_request_names_are_listed() -> None:
    snapshot = healthy()
    snapshot.requests.append(entry("users:me", {5: 10}))
    assert uncovered_names(slo(), snapshot) == ["users:me"]


def test_percentiles_follow_locusts_rule() -> None:
    # The figures locust.stats.calculate_response_time_percentile gives for this histogram.
    histogram = {1: 50, 2: 30, 3: 15, 4: 4, 100: 1}
    assert histogram_percentile(histogram, 50) == 2
    assert histogram_percentile(histogram, 95) == 4
    assert histogram_percentile(histogram, 99) == 100
    assert histogram_percentile(histogram, 100) == 100
    assert histogram_percentile({}, 95) == 0
    assert merge_histograms([{1: 2}, {1: 3, 5: 1}]) == {1: 5, 5: 1}
    assert sample_percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert math.isnan(sample_percentile([], 50))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (SLO_TEXT.replace("p95_ms: 50,", 'p95_ms: "fast",'), "groups.tasks:list.p95_ms"),
        (SLO_TEXT.replace("p95_ms: 50,", "p95_ms: -5,"), "groups.tasks:list.p95_ms"),
        (SLO_TEXT.replace("throughput_min_rps: 100\n", ""), "throughput_min_rps: Field required"),
        (SLO_TEXT.replace("error_ratio_max: 0.01", "error_ratio_max: 2"), "error_ratio_max"),
        (SLO_TEXT.replace("version: 1", "version: 2"), "version"),
        (SLO_TEXT.replace("p95_ms: 80", "p95_msec: 80"), "groups.tasks:write.p95_msec"),
        (SLO_TEXT.replace("p95_ms: 80", ""), "groups.tasks:write: Value error, give at least"),
        (SLO_TEXT.replace("min_samples: 3", "min_samples: 0"), "probes.reminder:lateness"),
        ("groups: [", "not valid YAML"),
        ("- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_a_malformed_slo_file_is_a_clear_error_naming_the_field(text: str, names: str) -> None:
    with pytest.raises(SloFileError) as caught:
        parse_slo(text, "slo.yaml")
    message = str(caught.value)
    assert message.startswith("slo.yaml: ")
    assert names in message


def test_an_unreadable_slo_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SloFileError, match="cannot read"):
        load_slo(tmp_path / "nope.yaml")


PROFILED_TEXT = (
    SLO_TEXT
    + """
profiles:
  smoke:
    description: a light load
    throughput_min_rps: 10
"""
)


def test_a_profile_overrides_only_what_it_names() -> None:
    objectives = parse_slo(PROFILED_TEXT)
    smoke = objectives.for_profile("smoke")
    assert smoke.throughput_min_rps == 10
    assert smoke.error_ratio_max == objectives.error_ratio_max == 0.01
    assert smoke.groups == objectives.groups
    # A profile without overrides is judged by the top level.
    assert objectives.for_profile("full").throughput_min_rps == 100


def test_the_smoke_floor_passes_a_light_run_that_the_release_floor_fails() -> None:
    objectives = parse_slo(PROFILED_TEXT)
    light = healthy(duration_s=100.0)  # 2,000 requests in 100 s: 20 req/s
    release = {r.slo: r for r in evaluate(objectives, light, {})}
    smoke = {r.slo: r for r in evaluate(objectives.for_profile("smoke"), light, {})}
    assert release["throughput"].verdict is Verdict.FAIL
    assert smoke["throughput"].verdict is Verdict.PASS
    # Latency is judged the same in both.
    assert release["tasks:list p95"] == smoke["tasks:list p95"]


def test_a_misspelt_profile_is_refused_with_the_known_ones() -> None:
    objectives = parse_slo(PROFILED_TEXT.replace("  smoke:", "  smoek:"))
    with pytest.raises(SloFileError, match=r"profiles\.smoek: no such load profile .*full, smoke"):
        objectives.check_profiles(["smoke", "full"])


def test_a_profile_override_outside_its_range_names_the_field() -> None:
    bad = PROFILED_TEXT.replace("throughput_min_rps: 10", "throughput_min_rps: -1")
    with pytest.raises(SloFileError, match=r"profiles\.smoke\.throughput_min_rps"):
        parse_slo(bad)


def test_the_shipped_profiles_name_real_load_profiles() -> None:
    from loadtests.run import PROFILES

    shipped = load_slo(DEFAULT_SLO_FILE)
    shipped.check_profiles(PROFILES)
    assert "smoke" in shipped.profiles
