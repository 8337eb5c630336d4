from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from todo.backend import tasks_service as svc
from todo.backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from todo.backend.models import (
    Priority,
    SnoozeRequest,
    TaskCreate,
    TaskPublic,
    TasksPublic,
    TaskStatus,
    TaskUpdate,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"description": "No such task for this user"}}
CONFLICTS: Responses = {
    409: {"description": "The body's `version` is not the task's current version"},
    412: {"description": "If-Match does not match the task's current ETag"},
}

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag last read (e.g. `"3"`): the change applies only to that version',
    ),
]


def etag(task: TaskPublic) -> str:
    return f'"{task.version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"If-Match must be an ETag of this API such as '\"3\"', not {value!r}",
        ) from None


def _task_response(task: TaskPublic, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        task.model_dump(mode="json"), status_code=status_code, headers={"ETag": etag(task)}
    )


def _not_found(task_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"task {task_id} not found")


def _conflict(exc: svc.VersionConflict) -> HTTPException:
    code = (
        status.HTTP_412_PRECONDITION_FAILED if exc.via == "if-match" else status.HTTP_409_CONFLICT
    )
    return HTTPException(
        code,
        f"the task changed meanwhile: it is at version {exc.current}, not {exc.expected}; "
        "reload it and apply your change again",
        headers={"ETag": f'"{exc.current}"'},
    )


def _invalid(exc: svc.InvalidChange) -> HTTPException:
    return HTTPException(
        422,
        [{"loc": ["body", exc.field], "msg": exc.reason, "type": "value_error"}],
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=TaskPublic, responses={422: {}}
)
async def create_task(
    body: TaskCreate, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    try:
        task = await svc.create_task(session, user.id, body)
    except svc.InvalidChange as exc:
        raise _invalid(exc) from None
    runtime.relay.poke()
    return _task_response(task, status.HTTP_201_CREATED)


@router.get("")
async def list_tasks(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="full-text search")] = None,
    status_: Annotated[TaskStatus | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query(description="all of these tags")] = None,
    due_after: Annotated[AwareDatetime | None, Query()] = None,
    due_before: Annotated[AwareDatetime | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
    sort: Annotated[svc.SortKey, Query()] = "due",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TasksPublic:
    """The caller's tasks, filtered, searched, sorted and paged (`count` is the total)."""
    if due_after is not None and due_before is not None and due_after >= due_before:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["query", "due_before"],
                    "msg": "due_before must be later than due_after",
                    "type": "value_error",
                }
            ],
        )
    query = svc.TaskQuery(
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
    data, count = await svc.list_tasks(session, user.id, query)
    return TasksPublic(data=data, count=count, limit=limit, offset=offset)


@router.get("/{task_id}", response_model=TaskPublic, responses=NOT_FOUND)
async def get_task(task_id: str, user: CurrentUser, session: SessionDep) -> JSONResponse:
    try:
        task = await svc.get_owned(session, user.id, task_id)
    except svc.TaskNotFound:
        raise _not_found(task_id) from None
    tags = (await svc.tags_of(session, [task.id]))[task.id]
    return _task_response(svc.to_public(task, tags))


@router.patch(
    "/{task_id}", response_model=TaskPublic, responses={**NOT_FOUND, **CONFLICTS, 422: {}}
)
async def update_task(
    task_id: str,
    body: TaskUpdate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Change the fields present in the body. Send `If-Match` (or `version`) to refuse
    the change when somebody else changed the task since you read it."""
    try:
        task = await svc.update_task(
            session, user.id, task_id, body, if_match=parse_if_match(if_match)
        )
    except svc.TaskNotFound:
        raise _not_found(task_id) from None
    except svc.VersionConflict as exc:
        raise _conflict(exc) from None
    except svc.InvalidChange as exc:
        raise _invalid(exc) from None
    runtime.relay.poke()
    return _task_response(task)


@router.delete(
    "/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**NOT_FOUND, **CONFLICTS}
)
async def delete_task(
    task_id: str,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> Response:
    try:
        await svc.delete_task(session, user.id, task_id, if_match=parse_if_match(if_match))
    except svc.TaskNotFound:
        raise _not_found(task_id) from None
    except svc.VersionConflict as exc:
        raise _conflict(exc) from None
    runtime.relay.poke()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _set_status(
    task_id: str,
    completed: bool,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: str | None,
) -> JSONResponse:
    try:
        task = await svc.set_status(
            session, user.id, task_id, completed, if_match=parse_if_match(if_match)
        )
    except svc.TaskNotFound:
        raise _not_found(task_id) from None
    except svc.VersionConflict as exc:
        raise _conflict(exc) from None
    runtime.relay.poke()
    return _task_response(task)


@router.post("/{task_id}/complete", response_model=TaskPublic, responses={**NOT_FOUND, **CONFLICTS})
async def complete_task(
    task_id: str,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Complete the task; a recurring task's next occurrence is created from it."""
    return await _set_status(task_id, True, user, session, runtime, if_match)


@router.post("/{task_id}/reopen", response_model=TaskPublic, responses={**NOT_FOUND, **CONFLICTS})
async def reopen_task(
    task_id: str,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    return await _set_status(task_id, False, user, session, runtime, if_match)


@router.post("/{task_id}/snooze", response_model=TaskPublic, responses={**NOT_FOUND, 422: {}})
async def snooze_task(
    task_id: str, body: SnoozeRequest, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> JSONResponse:
    """Remind again after `minutes`, or at `until`."""
    until: datetime = svc.snooze_until(body.minutes, body.until)
    try:
        task = await svc.snooze(session, user.id, task_id, until)
    except svc.TaskNotFound:
        raise _not_found(task_id) from None
    except svc.InvalidChange as exc:
        raise _invalid(exc) from None
    runtime.relay.poke()
    return _task_response(task)
