"""Benchmark: what a visit to the web app costs, first and repeat, on two networks.

    ./pants run loadtests:bench-web -- --runs 7

Serves the backend (embedded shape) on loopback and opens `/` in Debian's Chromium, first
with an empty cache (a new browser context), then again in a new tab of the same context
(a repeat visit: the HTTP cache holds what the first visit was allowed to keep). Each
visit ends when the sign-in form is visible and the network is idle. The Chrome DevTools
protocol reports every request: count, bytes on the wire (headers and bodies, compressed
as sent), and which came from the cache or as 304. First contentful paint is the page's
own `first-contentful-paint` entry. Once on plain loopback, once under DevTools' "Slow 4G"
(150 ms latency, 1.6 Mbit/s down, 750 kbit/s up). Medians over `--runs` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, CDPSession, async_playwright

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings
from todo.devstack.browser import CHROMIUM_ARGS, chromium_path
from todo.devstack.serving import serve

NETWORKS: dict[str, dict[str, Any] | None] = {
    "loopback": None,
    "slow-4g": {
        "offline": False,
        "latency": 150,
        "downloadThroughput": 1.6 * 1024 * 1024 / 8,
        "uploadThroughput": 750 * 1024 / 8,
    },
}
# Visible once the sign-in form has painted, whichever UI serves it.
SIGN_IN_EMAIL = '[data-testid="auth-email"]'


@dataclass
class Visit:
    requests: int = 0
    from_network: int = 0
    from_cache: int = 0
    not_modified: int = 0
    wire_bytes: int = 0
    fcp_ms: float = 0.0
    urls: list[str] = field(default_factory=list)


class NetworkLog:
    """Every request of one page, from the DevTools protocol's Network domain."""

    def __init__(self, cdp: CDPSession) -> None:
        self.sent: dict[str, str] = {}
        self.cached: set[str] = set()
        self.status: dict[str, int] = {}
        self.bytes: dict[str, int] = {}
        self.wire_status: dict[str, int] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._from_cache)
        cdp.on("Network.responseReceived", self._response)
        # The status on the wire: a revalidated resource reports the cached 200 above.
        cdp.on("Network.responseReceivedExtraInfo", self._wire_status)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        url = event["request"]["url"]
        if not url.startswith("data:"):
            self.sent[event["requestId"]] = url

    def _from_cache(self, event: dict[str, Any]) -> None:
        self.cached.add(event["requestId"])

    def _response(self, event: dict[str, Any]) -> None:
        response = event["response"]
        self.status[event["requestId"]] = int(response["status"])
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            self.cached.add(event["requestId"])

    def _wire_status(self, event: dict[str, Any]) -> None:
        self.wire_status[event["requestId"]] = int(event["statusCode"])

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = int(event["encodedDataLength"])

    def visit(self, fcp_ms: float) -> Visit:
        ids = list(self.sent)
        cached = [i for i in ids if i in self.cached]
        return Visit(
            requests=len(ids),
            from_network=len(ids) - len(cached),
            from_cache=len(cached),
            not_modified=sum(1 for i in ids if self.wire_status.get(i, self.status.get(i)) == 304),
            wire_bytes=sum(self.bytes.get(i, 0) for i in ids if i not in self.cached),
            fcp_ms=fcp_ms,
            urls=[self.sent[i] for i in ids],
        )


async def one_visit(context: BrowserContext, base_url: str, network: str) -> Visit:
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    conditions = NETWORKS[network]
    if conditions is not None:
        await cdp.send("Network.emulateNetworkConditions", conditions)
    log = NetworkLog(cdp)
    await page.goto(base_url + "/", wait_until="networkidle")
    await page.wait_for_selector(SIGN_IN_EMAIL, state="visible")
    fcp = await page.evaluate(
        """() => {
            const entry = performance.getEntriesByName('first-contentful-paint')[0];
            return entry ? entry.startTime : -1;
        }"""
    )
    visit = log.visit(float(fcp))
    await cdp.detach()
    await page.close()
    return visit


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def report(network: str, first: list[Visit], repeat: list[Visit]) -> list[str]:
    def row(name: str, visits: list[Visit]) -> str:
        return (
            f"{network:<9} {name:<7} requests {median([v.requests for v in visits]):4.0f} "
            f"(network {median([v.from_network for v in visits]):3.0f}, "
            f"cache {median([v.from_cache for v in visits]):3.0f}, "
            f"304 {median([v.not_modified for v in visits]):3.0f})  "
            f"bytes {median([v.wire_bytes for v in visits]) / 1024:7.1f} KiB  "
            f"FCP {median([v.fcp_ms for v in visits]):7.1f} ms"
        )

    saved = median([v.wire_bytes for v in first]) - median([v.wire_bytes for v in repeat])
    return [
        row("first", first),
        row("repeat", repeat),
        f"{network:<9} saved by caching on a repeat visit: {saved / 1024:.1f} KiB",
    ]


async def run(runs: int) -> list[str]:
    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium not found: apt-get install chromium, or set TODO_TEST_CHROMIUM")
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as data_dir:
        settings = BackendSettings(data_dir=Path(data_dir), jwt_secret="bench-web-" + "k" * 40)
        async with serve(create_app(settings)) as base_url, async_playwright() as p:
            browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            # A first visit warms the server's own caches (files read once, then kept).
            warm_up = await browser.new_context()
            await one_visit(warm_up, base_url, "loopback")
            await warm_up.close()
            for network in NETWORKS:
                first: list[Visit] = []
                repeat: list[Visit] = []
                for _ in range(runs):
                    context = await browser.new_context()
                    first.append(await one_visit(context, base_url, network))
                    repeat.append(await one_visit(context, base_url, network))
                    await context.close()
                lines += report(network, first, repeat)
            lines.append("requests of a first visit: " + ", ".join(first[-1].urls))
            await browser.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds per network (median)")
    args = parser.parse_args()
    for line in asyncio.run(run(args.runs)):
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
