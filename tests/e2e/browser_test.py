"""People's paths through the web app, in Debian's Chromium against the real server
(embedded shape) serving the real build: sign-up to a reminder, a recurring task rolling
forward (and its undo), two tabs live, an outage and its recovery, keyboard only, a phone,
and axe-core's accessibility checks on every screen."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings
from todo.devstack.browser import CHROMIUM_ARGS, chromium_path
from todo.devstack.ports import HOST, free_port

pytestmark = pytest.mark.browser

ZONE = "Europe/Berlin"
PHONE = {"width": 390, "height": 844}


class Server:
    """The backend on one port, stopped and started again on demand (an outage)."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.settings = BackendSettings(
            data_dir=data_dir, jwt_secret="browser-test-" + "k" * 40, outbox_poll_seconds=0.05
        )
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.settings), host=HOST, port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """As a crash would: listening stops and every open connection is cut."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            for connection in list(self._server.server_state.connections):
                connection.transport.abort()
            await self._task
            self._server = None


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    running = Server(tmp_path)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        message = "Chromium not found: apt-get install chromium, or set TODO_TEST_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


def axe_source() -> str:
    return (files("todo_web_test") / "axe.min.js").read_text()


async def new_context(browser: Browser, server: Server, **options: Any) -> BrowserContext:
    context = await browser.new_context(base_url=server.url, timezone_id=ZONE, **options)
    # axe-core goes in through the DevTools protocol: the page's CSP allows no inline script.
    await context.add_init_script(script=axe_source())
    return context


@pytest.fixture
async def context(browser: Browser, server: Server) -> AsyncIterator[BrowserContext]:
    ctx = await new_context(browser, server)
    yield ctx
    await ctx.close()


def watch(page: Page) -> list[str]:
    """Uncaught errors and CSP refusals of the page, for the test to assert empty."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text)
        if msg.type == "error" and "Content Security Policy" in msg.text
        else None,
    )
    return errors


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    errors = watch(opened)
    yield opened
    assert errors == [], f"uncaught errors in the page: {errors}"


async def sign_up(page: Page, email: str = "browser@example.com") -> None:
    await page.goto("/")
    await page.get_by_test_id("auth-toggle").click()
    await page.get_by_test_id("auth-email").fill(email)
    await page.get_by_test_id("auth-password").fill("a long password")
    await page.get_by_test_id("auth-submit").click()
    await expect(page.get_by_test_id("new-task")).to_be_visible()
    await expect(page.get_by_test_id("live-status")).to_have_text("live", timeout=10_000)


async def api(page: Page, method: str, path: str, body: Any = None) -> Any:
    """The REST API with the page's own session, to check what the server holds."""
    return await page.evaluate(
        """async ([method, path, body]) => {
            const token = localStorage.getItem('todo-cloud.token');
            const r = await fetch('/api/v1' + path, {
                method,
                headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'},
                body: body === null ? undefined : JSON.stringify(body),
            });
            return r.status === 204 ? null : await r.json();
        }""",
        [method, path, body],
    )


async def serious_accessibility_findings(page: Page) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.map((n) => n.target.join(' '))}));
        }"""
    )
    return findings


def wall(dt: datetime) -> str:
    """The value of a datetime-local input for `dt` in the page's zone."""
    return dt.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


async def create_task(page: Page, title: str, **fields: Any) -> None:
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill(title)
    if "due" in fields:
        await page.get_by_test_id("task-due").fill(fields["due"])
    if "priority" in fields:
        await page.get_by_test_id("task-priority").select_option(fields["priority"])
    if "repeat" in fields:
        await page.get_by_test_id("recurrence-frequency").select_option(fields["repeat"])
    await page.get_by_test_id("task-save").click()
    await expect(page.get_by_test_id("task-dialog")).to_have_count(0)
    await expect(page.get_by_test_id("task-row").filter(has_text=title)).to_be_visible()


async def test_first_visit_paints_the_sign_in_form_without_script_and_caches_the_rest(
    browser: Browser, server: Server
) -> None:
    context = await browser.new_context(base_url=server.url, java_script_enabled=False)
    page = await context.new_page()
    response = await page.goto("/")
    assert response is not None
    headers = await response.all_headers()
    assert headers["cache-control"] == "no-cache"
    assert headers["etag"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers.get("content-encoding") in {"br", "gzip"}
    # With no script at all the form is there: the first paint needs no bundle.
    await expect(page.get_by_test_id("auth-email")).to_be_visible()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    script = await page.locator("script[type=module]").get_attribute("src")
    assert script is not None
    assert script.startswith("/assets/")
    asset = await context.request.get(script)
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    await context.close()


async def test_sign_up_then_a_reminder_arrives_while_the_page_is_open(page: Page) -> None:
    await sign_up(page)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    due = (datetime.now().astimezone() + timedelta(seconds=6)).replace(microsecond=0)
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("Call the plumber")
    await page.get_by_test_id("task-due").fill(
        due.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    await page.get_by_test_id("reminder-add").click()
    await page.get_by_test_id("reminder-minutes").fill("0")
    await page.get_by_test_id("task-save").click()
    await expect(
        page.get_by_test_id("task-row").filter(has_text="Call the plumber")
    ).to_be_visible()
    await expect(page.get_by_test_id("notifications-count")).to_have_text("0")

    await expect(page.get_by_test_id("notifications-count")).to_have_text("1", timeout=20_000)
    assert datetime.now().astimezone() >= due
    await expect(page.get_by_test_id("toast")).to_contain_text("Call the plumber")
    assert await page.title() == "(1) Todo Cloud"
    await page.get_by_test_id("notifications-toggle").click()
    item = page.get_by_test_id("notification-item")
    await expect(item).to_have_count(1)
    await expect(item.get_by_test_id("notification-snooze")).to_be_visible()
    assert await serious_accessibility_findings(page) == []

    # Its task deleted, the reminder no longer offers a Snooze that would fail.
    await page.keyboard.press("Escape")
    await (
        page.get_by_test_id("task-row")
        .filter(has_text="Call the plumber")
        .get_by_test_id("task-delete")
        .click()
    )
    await page.get_by_role("button", name="Dismiss").click()
    await expect(page.get_by_test_id("task-row")).to_have_count(0)
    await page.get_by_test_id("notifications-toggle").click()
    await expect(item.get_by_test_id("notification-task-gone")).to_be_visible()
    await expect(item.get_by_test_id("notification-snooze")).to_have_count(0)
    assert navigations == [], "everything happened without a page load"


async def test_a_recurring_task_rolls_forward_and_undo_leaves_one_open_copy(page: Page) -> None:
    await sign_up(page)
    first_due = (datetime.now().astimezone() + timedelta(hours=1)).replace(second=0, microsecond=0)
    await create_task(page, "Stretch", due=wall(first_due), repeat="daily")
    rows = page.get_by_test_id("task-row").filter(has_text="Stretch")
    await rows.get_by_test_id("task-complete").click()
    # The next occurrence replaces it; the completed one leaves the (open) list.
    await expect(rows).to_have_count(1)
    await expect(rows.get_by_test_id("task-complete")).not_to_be_checked()
    await expect_eventually(
        lambda: api(page, "GET", "/tasks?status=open"),
        lambda d: d["count"] == 1 and d["data"][0]["occurrence_number"] == 2,
    )
    opened = await api(page, "GET", "/tasks?status=open")
    assert datetime.fromisoformat(opened["data"][0]["due_at"]) == first_due + timedelta(days=1)

    # Undo: the first occurrence is open again and the second is withdrawn.
    await page.get_by_role("button", name="Undo: reopen “Stretch”").click()
    await expect_eventually(
        lambda: api(page, "GET", "/tasks?status=open"),
        lambda d: d["count"] == 1 and d["data"][0]["occurrence_number"] == 1,
    )
    await expect(rows).to_have_count(1)


async def expect_eventually(probe: Any, ok: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if ok(value):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {value!r}")
        await asyncio.sleep(0.2)


async def test_two_tabs_stay_in_step(context: BrowserContext, page: Page) -> None:
    await sign_up(page)
    other = await context.new_page()
    other_errors = watch(other)
    await other.goto("/")
    await expect(other.get_by_test_id("live-status")).to_have_text("live", timeout=10_000)

    await create_task(page, "Made in the first tab")
    await expect(
        other.get_by_test_id("task-row").filter(has_text="Made in the first tab")
    ).to_be_visible()

    fire_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    await api(
        page,
        "POST",
        "/tasks",
        {"title": "Drink water", "reminders": [{"kind": "absolute", "at": fire_at}]},
    )
    for tab in (page, other):
        await expect(tab.get_by_test_id("notifications-count")).to_have_text("1", timeout=15_000)
    await page.get_by_test_id("notifications-toggle").click()
    await page.get_by_test_id("notification-read").click()
    # Read in one tab, the other's count and title follow.
    await expect(other.get_by_test_id("notifications-count")).to_have_text("0", timeout=10_000)
    assert await other.title() == "Todo Cloud"
    assert other_errors == []


async def test_an_outage_is_shown_in_words_and_the_app_recovers_by_itself(
    page: Page, server: Server
) -> None:
    await sign_up(page)
    await create_task(page, "Before the outage")
    await server.stop()
    await expect(page.get_by_test_id("live-status")).not_to_have_text("live", timeout=15_000)
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("During the outage")
    await page.get_by_test_id("task-save").click()
    error = page.get_by_test_id("task-form-error")
    await expect(error).to_have_text("Can't reach Todo Cloud. Check your connection and try again.")

    await server.start()
    await expect(page.get_by_test_id("live-status")).to_have_text("live", timeout=40_000)
    await page.get_by_test_id("task-save").click()
    await expect(
        page.get_by_test_id("task-row").filter(has_text="During the outage")
    ).to_be_visible()
    await expect(page.get_by_test_id("task-row")).to_have_count(2)


async def test_keyboard_only(page: Page) -> None:
    await page.goto("/")
    await page.get_by_test_id("auth-email").focus()
    await tab_to(page, "auth-toggle")
    await page.keyboard.press("Enter")
    await tab_to(page, "auth-email")
    await page.keyboard.type("keys@example.com")
    await page.keyboard.press("Tab")
    await page.keyboard.type("a long password")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("live-status")).to_have_text("live", timeout=10_000)

    await page.keyboard.press("n")
    await expect(page.get_by_test_id("task-title")).to_be_focused()
    await page.keyboard.type("Typed, never clicked")
    await page.keyboard.press("Enter")
    row = page.get_by_test_id("task-row").filter(has_text="Typed, never clicked")
    await expect(row).to_be_visible()

    await tab_to(page, "task-complete")
    await page.keyboard.press("Space")
    # The row went away with the completion: focus is on Undo, not on the page.
    undo = page.get_by_role("button", name="Undo: reopen “Typed, never clicked”")
    await expect(undo).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(row.get_by_test_id("task-complete")).to_be_focused()
    await expect(row.get_by_test_id("task-complete")).not_to_be_checked()


async def tab_to(page: Page, test_id: str, limit: int = 40) -> None:
    for _ in range(limit):
        if await page.evaluate("(id) => document.activeElement?.dataset?.testid === id", test_id):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {test_id}")


async def test_on_a_phone_the_list_comes_first_and_targets_are_big_enough(
    browser: Browser, server: Server
) -> None:
    context = await new_context(
        browser, server, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    errors = watch(page)
    await sign_up(page, "phone@example.com")
    due = datetime.now(UTC) + timedelta(days=1)
    for i in range(6):
        await api(
            page,
            "POST",
            "/tasks",
            {
                "title": f"Errand {i}",
                "tags": ["home"],
                "due_at": (due + timedelta(hours=i)).isoformat(),
            },
        )
    await expect(page.get_by_test_id("task-row")).to_have_count(6)
    visible = 0
    for box in [await r.bounding_box() for r in await page.get_by_test_id("task-row").all()]:
        assert box is not None
        if box["y"] + box["height"] <= PHONE["height"]:
            visible += 1
    assert visible >= 4, f"only {visible} tasks fit the first screen"
    for control in [
        *await page.get_by_test_id("task-complete").all(),
        *await page.locator(".tag").all(),
        page.get_by_test_id("filters-toggle"),
    ]:
        box = await control.bounding_box()
        assert box is not None
        assert box["width"] >= 24, box
        assert box["height"] >= 24, box
    assert await serious_accessibility_findings(page) == []

    await page.get_by_test_id("filters-toggle").click()
    await expect(page.get_by_test_id("filter-status")).to_be_visible()
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("recurrence-frequency").select_option("weekly")
    for chip in await page.locator(".weekdays label").all():
        box = await chip.bounding_box()
        assert box is not None
        assert box["height"] >= 24, box
    assert await serious_accessibility_findings(page) == []
    assert errors == []
    await context.close()


async def test_the_time_zone_picker_reads_the_entered_time_in_that_zone(page: Page) -> None:
    await sign_up(page)
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("Rent")
    await page.get_by_test_id("task-due").fill("2030-01-07T09:00")
    await page.get_by_test_id("task-timezone").select_option("America/New_York")
    await page.get_by_test_id("recurrence-frequency").select_option("monthly")
    await page.get_by_test_id("task-save").click()
    await expect(page.get_by_test_id("task-row").filter(has_text="Rent")).to_be_visible()
    (task,) = (await api(page, "GET", "/tasks"))["data"]
    assert datetime.fromisoformat(task["due_at"]) == datetime(2030, 1, 7, 14, 0, tzinfo=UTC)
    assert task["time_zone"] == "America/New_York"


async def test_sorting_by_priority_puts_the_most_urgent_first(page: Page) -> None:
    await sign_up(page)
    await create_task(page, "Low one", priority="low")
    await create_task(page, "Urgent one", priority="urgent")
    await page.get_by_test_id("sort").select_option(label="Priority: highest first")
    await expect(page.get_by_test_id("task-row").first).to_contain_text("Urgent one")
    await page.get_by_test_id("sort").select_option(label="Priority: lowest first")
    await expect(page.get_by_test_id("task-row").first).to_contain_text("Low one")


async def test_errors_are_said_in_words(page: Page) -> None:
    await sign_up(page)
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("Report")
    await page.get_by_test_id("task-due").fill("2030-02-01T09:00")
    await page.get_by_test_id("recurrence-frequency").select_option("weekly")
    await page.get_by_test_id("recurrence-until").fill("2030-01-31")
    await page.get_by_test_id("task-save").click()
    await expect(page.get_by_test_id("recurrence-error")).to_have_text(
        "The repeat ends before the task is first due. Choose a later end date."
    )
    await page.get_by_test_id("recurrence-until").fill("2030-03-31")
    await page.get_by_test_id("task-save").click()
    row = page.get_by_test_id("task-row").filter(has_text="Report")
    await expect(row.get_by_test_id("task-repeat")).to_contain_text("until Mar 31, 2030")

    # Edited elsewhere meanwhile: the conflict is said in words, with a way out.
    (task,) = (await api(page, "GET", "/tasks"))["data"]
    await row.get_by_test_id("task-edit").click()
    await page.get_by_test_id("task-title").fill("Report, final")
    await api(page, "PATCH", f"/tasks/{task['id']}", {"notes": "changed elsewhere"})
    await page.get_by_test_id("task-save").click()
    banner = page.get_by_test_id("task-form-error")
    await expect(banner).to_contain_text("changed somewhere else")
    assert "version" not in (await banner.inner_text())
    assert await serious_accessibility_findings(page) == []


async def test_an_expired_access_token_is_renewed_from_the_cookie_and_sign_out_ends_it(
    page: Page,
) -> None:
    await sign_up(page, "session@example.com")
    await create_task(page, "Survives the renewal")
    # An access token the server refuses, as one is after its minutes: the app renews it
    # from the httpOnly refresh cookie and the user notices nothing.
    await page.evaluate("localStorage.setItem('todo-cloud.token', 'expired.token.value')")
    await page.reload()
    await expect(
        page.get_by_test_id("task-row").filter(has_text="Survives the renewal")
    ).to_be_visible()
    await expect(page.get_by_test_id("live-status")).to_have_text("live", timeout=10_000)
    renewed = await page.evaluate("localStorage.getItem('todo-cloud.token')")
    assert renewed != "expired.token.value"
    cookies = await page.context.cookies()
    (refresh,) = (c for c in cookies if c["name"] == "todo_refresh")
    assert refresh["httpOnly"]
    assert refresh["sameSite"] == "Strict"
    assert refresh["path"] == "/api/v1/auth"
    # Signing out ends it on the server: neither the old access token nor the cookie works.
    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("auth-email")).to_be_visible()
    status = await page.evaluate(
        """async (token) => (await fetch('/api/v1/users/me',
            {headers: {Authorization: 'Bearer ' + token}})).status""",
        renewed,
    )
    assert status == 401
    refreshed = await page.evaluate(
        "async () => (await fetch('/api/v1/auth/refresh', {method: 'POST'})).status"
    )
    assert refreshed == 401
