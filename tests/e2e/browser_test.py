"""A person's path through the web UI, in a real headless Chromium against the real
server (embedded shape): sign up, a reminder that fires while the page is open, and a
daily recurring task that rolls forward when completed."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings
from todo.devstack.serving import serve

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("TODO_TEST_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        message = "Chromium not found: apt-get install chromium, or set TODO_TEST_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = BackendSettings(
        data_dir=tmp_path, jwt_secret="browser-test-" + "k" * 40, outbox_poll_seconds=0.05
    )
    async with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, base_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=base_url, timezone_id="Europe/Berlin")
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    await context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def local_input(dt: datetime) -> str:
    """The value of a datetime-local input in the page's zone (Europe/Berlin)."""
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT%H:%M:%S")


async def sign_up(page: Page) -> None:
    await page.goto("/")
    await page.get_by_test_id("auth-toggle").click()
    await page.get_by_test_id("auth-email").fill("browser@example.com")
    await page.get_by_test_id("auth-password").fill("a long password")
    await page.get_by_test_id("auth-submit").click()
    await expect(page.get_by_test_id("new-task")).to_be_visible()
    await expect(page.get_by_test_id("live-status")).to_have_text("live", timeout=10_000)


async def test_reminder_appears_without_reload_and_recurring_task_rolls_forward(
    page: Page,
) -> None:
    await sign_up(page)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # A task due in a few seconds, reminding at its due time.
    due = (datetime.now().astimezone() + timedelta(seconds=6)).replace(microsecond=0)
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("Call the plumber")
    await page.get_by_test_id("task-due").fill(local_input(due))
    await page.get_by_test_id("reminder-add").click()
    await page.get_by_test_id("reminder-kind").last.select_option("before_due")
    await page.get_by_test_id("reminder-minutes").fill("0")
    await page.get_by_test_id("task-save").click()
    row = page.get_by_test_id("task-row").filter(has_text="Call the plumber")
    await expect(row).to_be_visible()
    await expect(page.get_by_test_id("notifications-count")).to_have_text("0")

    # The reminder fires while the page stays open: the count and a toast update live.
    await expect(page.get_by_test_id("notifications-count")).to_have_text("1", timeout=20_000)
    await expect(page.get_by_test_id("toast")).to_contain_text("Call the plumber")
    assert datetime.now().astimezone() >= due
    await page.get_by_test_id("notifications-toggle").click()
    await expect(page.get_by_test_id("notification-item")).to_have_count(1)
    await expect(page.get_by_test_id("notification-item")).to_contain_text("Call the plumber")
    await page.keyboard.press("Escape")

    # A daily recurring task: completing it shows the next occurrence, one day later.
    first_due = (datetime.now().astimezone() + timedelta(hours=1)).replace(second=0, microsecond=0)
    await page.get_by_test_id("new-task").click()
    await page.get_by_test_id("task-title").fill("Stretch")
    await page.get_by_test_id("task-due").fill(local_input(first_due)[:16])
    await page.get_by_test_id("recurrence-frequency").select_option("daily")
    await page.get_by_test_id("task-save").click()
    stretch = page.get_by_test_id("task-row").filter(has_text="Stretch")
    await expect(stretch).to_have_count(1)
    await stretch.get_by_test_id("task-complete").check()
    await expect(stretch).to_have_count(2, timeout=15_000)
    open_rows = page.locator('[data-testid="task-row"][data-status="open"]').filter(
        has_text="Stretch"
    )
    await expect(open_rows).to_have_count(1)
    await expect(
        page.locator('[data-testid="task-row"][data-status="completed"]').filter(has_text="Stretch")
    ).to_have_count(1)

    # The UI shows what the API holds: the new occurrence is due exactly one day later.
    token = await page.evaluate("() => localStorage.getItem('todo-cloud.token')")
    assert token, "the page keeps its bearer token in localStorage"
    tasks = await page.evaluate(
        """async (token) => {
            const r = await fetch('/api/v1/tasks?q=Stretch&status=open',
                                  {headers: {Authorization: 'Bearer ' + token}});
            return (await r.json()).data;
        }""",
        token,
    )
    assert len(tasks) == 1
    next_due = datetime.fromisoformat(tasks[0]["due_at"])
    assert next_due == first_due + timedelta(days=1)
    assert tasks[0]["occurrence_number"] == 2
    assert navigations == [], "everything happened without a page load"
