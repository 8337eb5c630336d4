from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.targets import TargetError, check_url, is_loopback_host, keep_logs


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    ["10.0.0.1", "192.168.1.10", "172.16.0.1", "8.8.8.8", "example.com", "0.0.0.0"],  # noqa: S104
)
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_a_remote_url_is_refused_unless_allowed() -> None:
    with pytest.raises(TargetError, match="not a loopback address"):
        check_url("http://10.1.2.3:8000/", allow_remote=False)
    assert check_url("http://10.1.2.3:8000/", allow_remote=True) == "http://10.1.2.3:8000"
    assert check_url("http://127.0.0.1:8000/", allow_remote=False) == "http://127.0.0.1:8000"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8000", "embedded-ish"])
def test_a_target_that_is_no_http_url_is_refused(url: str) -> None:
    with pytest.raises(TargetError, match="give embedded, kafka, devstack or an http"):
        check_url(url, allow_remote=False)


def test_the_logs_of_a_temporary_stack_are_kept_by_path(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    (stack / "logs").mkdir(parents=True)
    (stack / "dapr").mkdir()
    (stack / "logs" / "backend.log").write_text("backend says hi")
    (stack / "dapr" / "daprd-todo-worker.log").write_text("daprd says hi")
    (stack / "dapr" / "config.yaml").write_text("not a log")
    segment = stack / "kafka" / "kraft-logs" / "task-events-0"
    segment.mkdir(parents=True)
    (segment / "00000000000000000000.log").write_bytes(b"\x00kafka data")
    out = tmp_path / "report"
    out.mkdir()

    kept = keep_logs(stack, out)

    assert sorted(p.name for p in kept) == ["dapr-daprd-todo-worker.log", "logs-backend.log"]
    assert (out / "logs-backend.log").read_text() == "backend says hi"
    assert not (out / "dapr-config.yaml").exists()
    assert not list(out.glob("kafka-*"))
