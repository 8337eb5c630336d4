"""A page's statement is built once per shape of filter, whatever the values."""

from __future__ import annotations

from datetime import UTC, datetime

from todo.backend.tasks.queries import TaskQuery, page_statement
from todo.domain.tasks import Priority


def test_one_statement_serves_every_value_of_a_shape() -> None:
    first = page_statement(TaskQuery(tag=["home"], priority=[Priority.HIGH]), "postgresql")
    again = page_statement(
        TaskQuery(tag=["work"], priority=[Priority.LOW, Priority.URGENT], limit=7, offset=3),
        "postgresql",
    )
    assert first is again
    later = datetime(2031, 1, 1, tzinfo=UTC)
    dated = page_statement(TaskQuery(due_after=later), "postgresql")
    assert dated is not first
    assert dated is page_statement(
        TaskQuery(due_after=datetime(2040, 1, 1, tzinfo=UTC)), "postgresql"
    )
    assert page_statement(TaskQuery(due_after=later), "sqlite") is not dated


def test_on_postgresql_any_number_of_search_words_is_one_statement() -> None:
    one = page_statement(TaskQuery(q="milk"), "postgresql")
    many = page_statement(TaskQuery(q="oat milk from the shop " * 8), "postgresql")
    assert one is many
    # SQLite matches each word with patterns of its own.
    assert page_statement(TaskQuery(q="milk"), "sqlite") is not page_statement(
        TaskQuery(q="oat milk"), "sqlite"
    )
