"""The caller's tasks: each route is one use case; errors are mapped in `api.errors`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response, status

from todo.backend.api.deps import CurrentUser, ReadSessionDep, SessionDep
from todo.backend.api.errors import ApiError, field_error
from todo.backend.models import (
    TASKS_JSON,
    SnoozeRequest,
    TaskCreate,
    TaskPublic,
    TasksJson,
    TasksPublic,
    TaskUpdate,
)
from todo.backend.tasks import commands, queries
from todo.domain.bounds import Instant, SafeText
from todo.domain.tasks import MAX_TAGS, Priority, TaskStatus

router = APIRouter(prefix="/tasks", tags=["tasks"])

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"description": "No such task for this user"}}
CONFLICTS: Responses = {
    409: {"description": "The body's `version` is not the task's current version"},
    412: {"description": "If-Match does not match the task's current ETag"},
}
BAD_IF_MATCH: Responses = {400: {"description": "If-Match is not an ETag of this API"}}
INVALID: Responses = {422: {"description": "A field is invalid, or the change is not allowed"}}
# The largest offset a page may start at: deep enough for any real list, small enough
# for every database's integer types.
MAX_OFFSET = 1_000_000

TaskId = Annotated[SafeText, Path(max_length=64, description="the task's id")]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=100,
        description='The ETag last read (e.g. `"3"`): the change applies only to that version',
    ),
]


def etag(task: TaskPublic) -> str:
    return f'"{task.version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**31:
        return int(raw)
    raise ApiError(
        status.HTTP_400_BAD_REQUEST,
        f"If-Match must be an ETag of this API such as '\"3\"', not {value[:40]!r}",
        "bad_if_match",
    )


def _task_response(task: TaskPublic, status_code: int = 200) -> Response:
    # Serialized once, by pydantic's own JSON encoder: no dict in between to dump again.
    return Response(
        task.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": etag(task)},
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskPublic, responses=INVALID)
async def create_task(body: TaskCreate, user: CurrentUser, session: SessionDep) -> Response:
    return _task_response(
        await commands.create_task(session, user.id, body), status.HTTP_201_CREATED
    )


@router.get("", response_model=TasksPublic)
async def list_tasks(
    user: CurrentUser,
    session: ReadSessionDep,
    q: Annotated[SafeText | None, Query(max_length=200, description="full-text search")] = None,
    status_: Annotated[TaskStatus | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query(max_length=len(Priority))] = None,
    tag: Annotated[
        list[Annotated[SafeText, Query(max_length=40)]] | None,
        Query(max_length=MAX_TAGS, description="all of these tags"),
    ] = None,
    due_after: Annotated[Instant | None, Query()] = None,
    due_before: Annotated[Instant | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
    sort: Annotated[queries.SortKey, Query()] = "due",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """The caller's tasks, filtered, searched, sorted and paged (`count` is the total)."""
    if due_after is not None and due_before is not None and due_after >= due_before:
        raise field_error(["query", "due_before"], "due_before must be later than due_after")
    query = queries.TaskQuery(
        q=q,
        status=status_,
        priority=priority,
        tag=tag,
        due_after=due_after,
        due_before=due_before,
        overdue=overdue,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    data, count = await queries.list_tasks(session, user.id, query)
    page = TasksJson(data=data, count=count, limit=limit, offset=offset)
    return Response(TASKS_JSON.dump_json(page), media_type="application/json")


@router.get("/{task_id}", response_model=TaskPublic, responses=NOT_FOUND)
async def get_task(task_id: TaskId, user: CurrentUser, session: ReadSessionDep) -> Response:
    return _task_response(await queries.get_public(session, user.id, task_id))


@router.patch(
    "/{task_id}",
    response_model=TaskPublic,
    responses={**NOT_FOUND, **CONFLICTS, **BAD_IF_MATCH, **INVALID},
)
async def update_task(
    task_id: TaskId,
    body: TaskUpdate,
    user: CurrentUser,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    """Change the fields present in the body. Send `If-Match` (or `version`) to refuse
    the change when somebody else changed the task since you read it."""
    return _task_response(
        await commands.update_task(
            session, user.id, task_id, body, if_match=parse_if_match(if_match)
        )
    )


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, **CONFLICTS, **BAD_IF_MATCH},
)
async def delete_task(
    task_id: TaskId, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> Response:
    await commands.delete_task(session, user.id, task_id, if_match=parse_if_match(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{task_id}/complete",
    response_model=TaskPublic,
    responses={**NOT_FOUND, **CONFLICTS, **BAD_IF_MATCH},
)
async def complete_task(
    task_id: TaskId, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> Response:
    """Complete the task; a recurring task's next occurrence is created from it.
    Completing a completed task changes nothing."""
    return _task_response(
        await commands.set_status(
            session, user.id, task_id, True, if_match=parse_if_match(if_match)
        )
    )


@router.post(
    "/{task_id}/reopen",
    response_model=TaskPublic,
    responses={**NOT_FOUND, **CONFLICTS, **BAD_IF_MATCH},
)
async def reopen_task(
    task_id: TaskId, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> Response:
    """Take a completion back. The next occurrence it generated goes again, unless it was
    changed since."""
    return _task_response(
        await commands.set_status(
            session, user.id, task_id, False, if_match=parse_if_match(if_match)
        )
    )


@router.post("/{task_id}/snooze", response_model=TaskPublic, responses={**NOT_FOUND, **INVALID})
async def snooze_task(
    task_id: TaskId, body: SnoozeRequest, user: CurrentUser, session: SessionDep
) -> Response:
    """Remind again after `minutes`, or at `until`."""
    until = commands.snooze_until(body.minutes, body.until)
    return _task_response(await commands.snooze(session, user.id, task_id, until))
