"""Tables (SQLModel) and the API's request/response models for them.

Per entity the family is `XBase` (shared fields), `XCreate`/`XUpdate` (input),
`X(table=True)` (storage) and `XPublic` (output).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Self
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    field_validator,
    model_validator,
)
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from todo.domain.events import ReminderKind, ReminderSpec
from todo.domain.recurrence import RecurrenceRule
from todo.shared.db import UTCDateTime

MAX_TAGS = 20
# The document of full-text search on PostgreSQL: the GIN index (migration 0001) and the
# query must use this exact expression for the index to serve the query.
TASK_SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(notes, ''))"
)
MAX_REMINDERS = 10


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


# --- users ---------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    email: str = Field(unique=True, index=True, max_length=320)
    display_name: str = Field(default="", max_length=100)
    password_hash: str | None = Field(default=None, max_length=200)
    # Subject at an external issuer, for users that sign in through one.
    external_subject: str | None = Field(default=None, unique=True, max_length=255)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class UserRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field(default="", max_length=100)


class UserLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=128)


class UserPublic(BaseModel):
    id: str
    email: str
    display_name: str
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserPublic


# --- tasks ---------------------------------------------------------------------------


@cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk: read it once, not per request.
    return frozenset(available_timezones()) | {"UTC"}


def _valid_zone(value: str) -> str:
    if value not in _known_zones():
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Berlin')")
    return value


def _normalise_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().lower()
        if not tag:
            raise ValueError("tags must not be empty strings")
        if len(tag) > 40:
            raise ValueError(f"tag {tag[:40]!r}... is longer than 40 characters")
        if any(c.isspace() or c == "," for c in tag):
            raise ValueError(f"tag {tag!r} must not contain spaces or commas")
        seen[tag] = None
    if len(seen) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags per task")
    return list(seen)


class ReminderIn(ReminderSpec):
    """A reminder as clients send it: exactly one of `at` or `minutes_before`."""

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.kind is ReminderKind.ABSOLUTE and (
            self.at is None or self.minutes_before is not None
        ):
            raise ValueError("an absolute reminder needs 'at' (and no 'minutes_before')")
        if self.kind is ReminderKind.BEFORE_DUE and (
            self.minutes_before is None or self.at is not None
        ):
            raise ValueError("a before_due reminder needs 'minutes_before' (and no 'at')")
        return self


class TaskFields(BaseModel):
    """Validation shared by create and update."""

    @field_validator("time_zone", check_fields=False)
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return None if v is None else _valid_zone(v)

    @field_validator("tags", check_fields=False)
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _normalise_tags(v)

    @field_validator("reminders", check_fields=False)
    @classmethod
    def _reminders(cls, v: list[ReminderIn] | None) -> list[ReminderIn] | None:
        if v is not None and len(v) > MAX_REMINDERS:
            raise ValueError(f"at most {MAX_REMINDERS} reminders per task")
        return v


class TaskCreate(TaskFields):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    notes: str = Field(default="", max_length=10_000)
    priority: Priority = Priority.MEDIUM
    tags: list[str] = Field(default_factory=list)
    due_at: AwareDatetime | None = None
    time_zone: str = "UTC"
    reminders: list[ReminderIn] = Field(default_factory=list)
    recurrence: RecurrenceRule | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("title must not be blank")
        return v.strip()


class TaskUpdate(TaskFields):
    """PATCH body: only the fields present change; null clears a nullable field."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    notes: str | None = Field(default=None, max_length=10_000)
    priority: Priority | None = None
    tags: list[str] | None = None
    due_at: AwareDatetime | None = None
    time_zone: str | None = None
    reminders: list[ReminderIn] | None = None
    recurrence: RecurrenceRule | None = None
    # Alternative to If-Match: the version the client last read.
    version: int | None = Field(default=None, ge=1)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("title must not be blank")
        return None if v is None else v.strip()


class SnoozeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.minutes is None) == (self.until is None):
            raise ValueError("give exactly one of 'minutes' or 'until'")
        return self


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_tasks_owner_created", "owner_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    owner_id: str = Field(foreign_key="users.id", max_length=36, ondelete="CASCADE")
    title: str = Field(max_length=200)
    notes: str = Field(default="")
    status: str = Field(default=TaskStatus.OPEN.value, max_length=16)
    priority: str = Field(default=Priority.MEDIUM.value, max_length=16)
    priority_rank: int = Field(default=1)
    due_at: datetime | None = _utc_column()
    time_zone: str = Field(default="UTC", max_length=64)
    reminders: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    snoozed_until: datetime | None = _utc_column()
    recurrence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    series_id: str = Field(max_length=36, index=True)
    series_start: datetime | None = _utc_column()
    occurrence_number: int = Field(default=1)
    # The event that created this occurrence: one occurrence per completion event.
    origin_key: str | None = Field(default=None, unique=True, max_length=200)
    completed_at: datetime | None = _utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    version: int = Field(default=1)


class TaskTag(SQLModel, table=True):
    __tablename__ = "task_tags"
    __table_args__ = (Index("ix_task_tags_owner_tag", "owner_id", "tag"),)

    task_id: str = Field(
        foreign_key="tasks.id", primary_key=True, ondelete="CASCADE", max_length=36
    )
    tag: str = Field(primary_key=True, max_length=40)
    owner_id: str = Field(max_length=36)


class TaskPublic(BaseModel):
    id: str
    title: str
    notes: str
    status: TaskStatus
    priority: Priority
    tags: list[str]
    due_at: datetime | None
    time_zone: str
    reminders: list[ReminderSpec]
    snoozed_until: datetime | None
    next_reminder_at: datetime | None
    recurrence: RecurrenceRule | None
    recurrence_text: str | None
    series_id: str
    occurrence_number: int
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    overdue: bool


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int
    limit: int
    offset: int


# --- notifications -------------------------------------------------------------------


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("task_id", "fire_at", name="uq_notifications_task_fire"),
        Index("ix_notifications_owner_created", "owner_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    owner_id: str = Field(foreign_key="users.id", max_length=36, ondelete="CASCADE")
    task_id: str = Field(max_length=36)
    kind: str = Field(default="reminder", max_length=32)
    title: str = Field(max_length=200)
    fire_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    read_at: datetime | None = _utc_column()


class NotificationPublic(BaseModel):
    id: str
    task_id: str
    kind: str
    title: str
    fire_at: datetime
    created_at: datetime
    read_at: datetime | None
    # The task's status now; null once it was deleted (clients offer Snooze for open ones).
    task_status: TaskStatus | None


class NotificationsPublic(BaseModel):
    data: list[NotificationPublic]
    unread: int


# --- events and jobs -----------------------------------------------------------------


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the change it describes."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    topic: str = Field(max_length=64)
    partition_key: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    published_at: datetime | None = _utc_column()
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None)
