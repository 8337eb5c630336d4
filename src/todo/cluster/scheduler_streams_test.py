import json

from todo.cluster.scheduler_streams import stream_connected


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
