"""Browser posture: headers every response carries.

The web UI has no inline script or style and loads nothing from other origins, so its
pages get a strict Content-Security-Policy; API answers (JSON, event streams) get one
that allows nothing at all, since a browser should never render them as a document.
The API docs (`/docs`, Swagger UI from FastAPI) load their script and style from a CDN
and start with an inline script: their policy allows exactly that and no more.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The web app runs no inline script or style: every one of its files comes from here.
PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {DOCS_CDN}; "
    f"style-src 'self' 'unsafe-inline' {DOCS_CDN}; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Sent only over HTTPS (a plain-http localhost must stay reachable over http).
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _COMMON.items():
                    headers.setdefault(name, value)
                policy = _policy(path, message["status"], headers)
                headers.setdefault("Content-Security-Policy", policy)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _policy(path: str, status: int, headers: MutableHeaders) -> str:
    if path in DOCS_PATHS:
        return DOCS_POLICY
    if headers.get("content-type", "").startswith(("text/html", "image/svg")):
        return PAGE_POLICY
    # A 304 has no content type, yet the browser stores its headers over the cached page's:
    # a revalidated page must keep the page's policy, or its reload can load no script.
    if status == 304 and not path.startswith("/api/"):
        return PAGE_POLICY
    return API_POLICY
