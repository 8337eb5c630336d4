"""Tables (SQLModel) and the API's request and response models for them.

- Tasks: `TaskBase` (the fields a user edits, with their bounds), `TaskCreate` and
  `TaskUpdate` (input), `Task` (the table, with typed columns: enums, and reminders and
  the recurrence rule as JSON models), `TaskPublic` and `TasksPublic` (output), and
  `TaskJson`/`TASKS_JSON`, the same page as plain dicts, serialized without a model per task.
- Users: `User`, `ExternalIdentity` and `RefreshToken` (tables), `UserRegister`,
  `UserLogin`, `RefreshRequest`, `PasswordChange` and `AccountDeletion` (input),
  `UserPublic` and `Token` (output).
- Notifications: `Notification` (the table), `NotificationPublic(s)` (output).
- `OutboxEvent`: the events staged with each change (`todo.backend.outbox`).

Every text input is `SafeText` and every instant an `Instant` (`todo.domain.bounds`):
whatever is accepted can be stored, computed on and listed again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Self
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    TypeAdapter,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from todo.backend.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH
from todo.backend.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH
from todo.backend.passwords import password_problem
from todo.domain.bounds import RANGE_TEXT, Instant, SafeText, within_range
from todo.domain.events import ReminderKind, ReminderSpec
from todo.domain.recurrence import RecurrenceBasis, RecurrenceRule, format_rrule, parse_rrule
from todo.domain.tasks import MAX_REMINDERS, Priority, TaskStatus, normalise_tags
from todo.shared.db import JSONModel, StrEnumType, UTCDateTime

# The document of full-text search on PostgreSQL: the GIN index (migration 0001) and the
# query must use this exact expression for the index to serve the query.
TASK_SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(notes, ''))"
)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class RefreshVia(StrEnum):
    """Where a sign-in hands over its refresh token: an httpOnly cookie (browsers) or
    the JSON body (other clients, which then send it back in the refresh body)."""

    COOKIE = "cookie"
    BODY = "body"


# --- users ---------------------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    email: str = Field(unique=True, index=True, max_length=320)
    display_name: str = Field(default="", max_length=100)
    password_hash: str | None = Field(default=None, max_length=200)
    # Every access token names the version it was issued at: raising it (sign-out,
    # password change) makes all older access tokens fail at once.
    token_version: int = Field(default=0)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ExternalIdentity(SQLModel, table=True):
    """A user of an external OpenID issuer: one account per (issuer, subject)."""

    __tablename__ = "external_identities"

    issuer: str = Field(primary_key=True, max_length=255)
    subject: str = Field(primary_key=True, max_length=255)
    user_id: str = Field(foreign_key="users.id", max_length=36, ondelete="CASCADE", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class RefreshToken(SQLModel, table=True):
    """One refresh token, stored as its SHA-256 only. A sign-in starts a family; each
    refresh replaces the token by a new one of the same family, and a replaced token
    presented again revokes its whole family (it was copied)."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=36, ondelete="CASCADE", index=True)
    family_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    rotated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


def _checked_password(password: str, email: str = "") -> str:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise ValueError(problem)
    return password


class UserRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description="Not one of the common passwords of leaked lists, nor the email address",
    )
    display_name: str = Field(default="", max_length=100)
    refresh_via: RefreshVia = RefreshVia.COOKIE

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str, info: ValidationInfo) -> str:
        # Fields validate in order: the email is known here when it was valid.
        return _checked_password(value, str(info.data.get("email", "")))


class UserLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    refresh_via: RefreshVia = RefreshVia.COOKIE


class RefreshRequest(BaseModel):
    """Without a body (or without `refresh_token`), the refresh cookie is used."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(default=None, min_length=1, max_length=200)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
    refresh_via: RefreshVia = RefreshVia.COOKIE

    @field_validator("new_password")
    @classmethod
    def _password_policy(cls, value: str) -> str:
        return _checked_password(value)


class AccountDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PASSWORD_LENGTH,
        description="Required for an account with a password",
    )


class UserPublic(BaseModel):
    id: str
    email: str
    display_name: str
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    # Only with `refresh_via: body`; browsers get it as an httpOnly cookie instead.
    refresh_token: str | None = None
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires")
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


def _title(value: str) -> str:
    if not value.strip():
        raise ValueError("title must not be blank")
    return value.strip()


def _tags(value: list[str]) -> list[str]:
    return normalise_tags(value)


def _reminder_count(value: list[ReminderIn]) -> list[ReminderIn]:
    if len(value) > MAX_REMINDERS:
        raise ValueError(f"at most {MAX_REMINDERS} reminders per task")
    return value


Title = Annotated[SafeText, Field(min_length=1, max_length=200), AfterValidator(_title)]
Notes = Annotated[SafeText, Field(max_length=10_000)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_valid_zone)]
Tag = Annotated[SafeText, Field(max_length=200)]
Tags = Annotated[list[Tag], Field(max_length=100), AfterValidator(_tags)]


class ReminderIn(ReminderSpec):
    """A reminder as clients send it: exactly one of `at` or `minutes_before`."""

    at: Instant | None = None

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


def _rule_in_range(rule: RecurrenceRule | None) -> RecurrenceRule | None:
    if rule is not None and rule.until is not None and not within_range(rule.until):
        raise ValueError(f"until must be {RANGE_TEXT}")
    return rule


Recurrence = Annotated[RecurrenceRule | None, AfterValidator(_rule_in_range)]
Reminders = Annotated[list[ReminderIn], Field(max_length=100), AfterValidator(_reminder_count)]


class TaskBase(SQLModel):
    """The fields a user edits, as clients send and read them."""

    title: Title
    notes: Notes = ""
    priority: Priority = Priority.MEDIUM
    due_at: Instant | None = None
    time_zone: TimeZone = "UTC"


def _supported_rrule(text: str) -> str:
    parse_rrule(text)
    return text


RRuleText = Annotated[
    str,
    Field(
        max_length=1000,
        description="The recurrence as RFC 5545 RRULE text, instead of `recurrence`; its "
        "basis goes in `recurrence_basis`.",
        schema_extra={"examples": ["FREQ=MONTHLY;BYDAY=-2MO"]},
    ),
    AfterValidator(_supported_rrule),
]
_RRULE_INPUT = ("rrule", "recurrence_basis")


class RecurrenceText(SQLModel):
    """`rrule` (with `recurrence_basis`) spells `recurrence` as RFC 5545 text."""

    rrule: RRuleText | None = None
    recurrence_basis: RecurrenceBasis | None = None

    @model_validator(mode="before")
    @classmethod
    def _text_is_recurrence(cls, data: Any) -> Any:
        """Past this point only `recurrence` is set. Text that does not parse stays, for
        its field to be refused with the reason."""
        if not isinstance(data, dict) or not data.keys() & set(_RRULE_INPUT):
            return data
        if "rrule" not in data:
            raise ValueError(
                "recurrence_basis goes with rrule; a structured recurrence carries its own basis"
            )
        if "recurrence" in data:
            raise ValueError("give either recurrence (structured) or rrule (text), not both")
        text, basis = data["rrule"], data.get("recurrence_basis") or RecurrenceBasis.DUE.value
        if text is not None and not isinstance(text, str):
            return data
        try:
            rule = None if text is None else parse_rrule(text, RecurrenceBasis(basis))
        except ValueError:
            return data
        converted = {key: value for key, value in data.items() if key not in _RRULE_INPUT}
        converted["recurrence"] = rule
        return converted


class TaskCreate(TaskBase, RecurrenceText):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    tags: Tags = Field(default_factory=list)
    reminders: Reminders = Field(default_factory=list)
    recurrence: Recurrence = None


class TaskUpdate(RecurrenceText):
    """PATCH body: only the fields present change; null clears a nullable field."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    title: Title | None = None
    notes: Notes | None = None
    priority: Priority | None = None
    tags: Tags | None = None
    due_at: Instant | None = None
    time_zone: TimeZone | None = None
    reminders: Reminders | None = None
    recurrence: Recurrence = None
    # Alternative to If-Match: the version the client last read.
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class SnoozeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    until: Instant | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.minutes is None) == (self.until is None):
            raise ValueError("give exactly one of 'minutes' or 'until'")
        return self


def _utc_column(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class Task(SQLModel, table=True):
    """One occurrence of a task. A series is the tasks sharing `series_id`, numbered by
    `occurrence_number`; (series, number) is unique, so no sequence of completions,
    reopenings or redeliveries can make the same occurrence twice."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_tasks_owner_created", "owner_id", "created_at"),
        Index("uq_tasks_series_occurrence", "series_id", "occurrence_number", unique=True),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    owner_id: str = Field(foreign_key="users.id", max_length=36, ondelete="CASCADE")
    title: str = Field(max_length=200)
    notes: str = Field(default="")
    status: TaskStatus = Field(
        default=TaskStatus.OPEN, sa_column=Column(StrEnumType(TaskStatus), nullable=False)
    )
    priority: Priority = Field(
        default=Priority.MEDIUM, sa_column=Column(StrEnumType(Priority), nullable=False)
    )
    priority_rank: int = Field(default=Priority.MEDIUM.rank)
    due_at: datetime | None = _utc_column()
    time_zone: str = Field(default="UTC", max_length=64)
    reminders: list[ReminderSpec] = Field(
        default_factory=list, sa_column=Column(JSONModel(list[ReminderSpec]))
    )
    snoozed_until: datetime | None = _utc_column()
    recurrence: RecurrenceRule | None = Field(
        default=None, sa_column=Column(JSONModel(RecurrenceRule | None))
    )
    series_id: str = Field(max_length=36, index=True)
    series_start: datetime | None = _utc_column()
    occurrence_number: int = Field(default=1)
    # The completion event that created this occurrence (None: created by its user).
    origin_key: str | None = Field(default=None, unique=True, max_length=200)
    completed_at: datetime | None = _utc_column()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    version: int = Field(default=1)


TASKS = Task.__table__  # type: ignore[attr-defined]
# Each owner's tasks in the order of the default page (migration 0004): the page's first
# rows without sorting all of them.
Index(
    "ix_tasks_owner_page_order",
    TASKS.c.owner_id,
    TASKS.c.due_at.is_(None),
    TASKS.c.due_at,
    TASKS.c.created_at,
    TASKS.c.id,
)


class TaskTag(SQLModel, table=True):
    __tablename__ = "task_tags"
    __table_args__ = (Index("ix_task_tags_owner_tag", "owner_id", "tag"),)

    task_id: str = Field(
        foreign_key="tasks.id", primary_key=True, ondelete="CASCADE", max_length=36
    )
    tag: str = Field(primary_key=True, max_length=40)
    owner_id: str = Field(max_length=36)


TASK_TAGS = TaskTag.__table__  # type: ignore[attr-defined]


class TaskPublic(TaskBase):
    """A task as the API answers it."""

    title: str
    notes: str
    time_zone: str
    due_at: datetime | None
    id: str
    status: TaskStatus
    tags: list[str]
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

    @computed_field(  # type: ignore[prop-decorator]
        description="`recurrence` as RFC 5545 RRULE text (its basis is `recurrence.basis`)",
        examples=["FREQ=MONTHLY;BYDAY=-2MO"],
    )
    @property
    def rrule(self) -> str | None:
        return format_rrule(self.recurrence) if self.recurrence is not None else None


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int
    limit: int
    offset: int


@dataclass(slots=True)
class TaskJson:
    """`TaskPublic` as a plain record, field for field in its order (`rrule` included),
    for pages: serialized by pydantic's core with no validation and no model per task
    (building `TaskPublic`s was 40% of the CPU of a page of 200). `models_test` holds
    the two to the same fields and the same JSON."""

    title: str
    notes: str
    # The `Priority` and `TaskStatus` members, serialized as the strings they are: as enums
    # pydantic reads each one's `.value` (a descriptor call), twice a row of a page.
    priority: str
    due_at: datetime | None
    time_zone: str
    id: str
    status: str
    tags: list[str]
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
    rrule: str | None


@dataclass(slots=True)
class TasksJson:
    """`TasksPublic` of `TaskJson` rows."""

    data: list[TaskJson]
    count: int
    limit: int
    offset: int


TASKS_JSON: TypeAdapter[TasksJson] = TypeAdapter(TasksJson)


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
