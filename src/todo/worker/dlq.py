"""`python -m todo.worker.dlq`: how many events wait in the dead-letter topics, and send
them back onto their topics (consumers are idempotent: a replay repeats nothing).

    python -m todo.worker.dlq depth  --bootstrap 127.0.0.1:9092
    python -m todo.worker.dlq replay --bootstrap 127.0.0.1:9092 --topic task-events
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import timedelta

from todo.domain.events import Topic
from todo.shared.dlq import REPLAY_GROUP, depth, replay

REPLAYABLE = (Topic.TASK_EVENTS.value, Topic.REMINDERS.value)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m todo.worker.dlq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("depth", "print how many dead letters wait, per topic"),
        ("replay", "send dead letters back onto their topic"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--bootstrap", required=True, help="Kafka bootstrap servers, host:port[,host:port]"
        )
        command.add_argument(
            "--topic",
            action="append",
            help="a source topic, its dead letters in <topic>.dlq (default: "
            + ", ".join(REPLAYABLE)
            + ")",
        )
        command.add_argument("--group", default=REPLAY_GROUP, help="the replayer's consumer group")
        if name == "replay":
            command.add_argument(
                "--min-age",
                type=float,
                default=0.0,
                metavar="SECONDS",
                help="only dead letters at least this old (default: every one)",
            )
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    topics: list[str] = args.topic or list(REPLAYABLE)
    if args.command == "depth":
        for topic, waiting in (await depth(args.bootstrap, topics, args.group)).items():
            print(f"{topic}.dlq\t{waiting}")
        return 0
    for topic in topics:
        report = await replay(
            args.bootstrap, topic, min_age=timedelta(seconds=args.min_age), group=args.group
        )
        print(
            f"{topic}.dlq -> {topic}: {report.replayed} replayed, {report.unreadable} "
            f"unreadable (skipped), {report.waiting} younger than --min-age"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_run(_parse(argv)))


if __name__ == "__main__":
    sys.exit(main())
