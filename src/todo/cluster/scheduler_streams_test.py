import json
from datetime import UTC, datetime, timedelta

from todo.cluster.scheduler_streams import LOG_MEMORY, stream_state, waits_for


def line(msg: str, scope: str = "dapr.runtime.scheduler.cluster") -> str:
    # As daprd 1.16 writes it with dapr.io/log-as-json.
    return json.dumps(
        {
            "app_id": "todo-worker",
            "instance": "todo-worker-5f7c9-abcde",
            "level": "info",
            "msg": msg,
            "scope": scope,
            "time": "2026-12-01T23:50:00.000Z",
            "type": "log",
            "ver": "1.16.0",
        }
    )


def stream_connected(lines: list[str]) -> bool:
    return stream_state(lines) is True


def test_clients_alone_are_not_a_stream() -> None:
    assert not stream_connected([])
    assert not stream_connected(
        [
            line("Scheduler clients initialized", "dapr.runtime.scheduler.clients"),
            line("App health probes starting", "dapr.apphealth"),
        ]
    )


def test_the_last_word_on_the_stream_counts() -> None:
    connected = line("Scheduler stream connected for [TYPE_JOB]")
    dropped = line("Scheduler stream disconnected: rpc error: code = Unavailable")
    assert stream_connected([connected])
    assert not stream_connected([connected, dropped])
    assert stream_connected([connected, dropped, line("something else"), connected])
    assert not stream_connected([connected, line("Scheduler stream disconnected")])


def test_text_logs_and_broken_lines_are_read_too() -> None:
    text = 'time="2026-12-01T23:50:00Z" level=info msg="Scheduler stream connected for [TYPE_JOB]"'
    assert stream_connected([text])
    assert stream_connected(["{not json", text])
    assert not stream_connected(['{"msg": 3}', "{not json"])


def test_a_log_that_says_nothing_of_the_stream_is_told_from_one_that_says_disconnected() -> None:
    assert stream_state([line("App health probes starting", "dapr.apphealth")]) is None
    assert stream_state([line("Scheduler stream disconnected")]) is False
    assert stream_state([line("Scheduler stream connected for [TYPE_JOB]")]) is True


def test_only_a_long_running_sidecars_silence_is_not_waited_for() -> None:
    now = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    young, old = now - timedelta(seconds=30), now - LOG_MEMORY - timedelta(seconds=1)
    assert not waits_for(True, young, now)
    assert waits_for(None, young, now), "a new sidecar that said nothing yet"
    assert not waits_for(None, old, now), "its word may be in a rotated log"
    assert waits_for(False, old, now), "a disconnection is waited out, however old"
    assert waits_for(None, None, now), "not running: no age to judge by"
