"""The browser app: the build of `src/web` (the Python resources `todo_web`), served so that
a repeat visit costs one revalidated request.

- `/assets/*` carry a content hash in their names: cached for a year, immutable.
- `/` (index.html) is revalidated on every visit (`no-cache` with an ETag: 304 when
  unchanged); it already holds the rendered sign-in form, so it paints before any script.
- Bodies go out as the build pre-compressed them (brotli, else gzip, else as they are),
  chosen by Accept-Encoding, with `Vary: Accept-Encoding`.
- The browser posture (a strict Content-Security-Policy: scripts and styles from this
  origin only, no inline script or style, no frames, no plugins; nosniff; no referrer)
  comes from `todo.backend.security_headers`, for pages and API answers alike.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.responses import Response

log = logging.getLogger(__name__)

RESOURCES = "todo_web"
ASSETS_PREFIX = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
# Preference order of the encodings the build writes beside each file (name suffix).
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
NOT_BUILT = (
    "<!doctype html><title>Todo Cloud</title><p>The web app is not built into this "
    "package. Run the backend with <code>./pants run src/todo/backend:backend</code>, "
    "which builds it.</p>"
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    cache_control: str
    etag_base: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    def choose(self, accept_encoding: str) -> tuple[str | None, bytes, str]:
        """(encoding or None, body, ETag) for a request's Accept-Encoding."""
        accepted = accepted_encodings(accept_encoding)
        for encoding, _ in ENCODINGS:
            if encoding in self.encoded and encoding in accepted:
                return encoding, self.encoded[encoding], f'"{self.etag_base}-{encoding}"'
        return None, self.body, f'"{self.etag_base}"'


def accepted_encodings(header: str) -> set[str]:
    """The codings an Accept-Encoding header allows (q > 0)."""
    accepted: set[str] = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name and quality > 0:
            accepted.add(name.strip().lower())
    if "*" in accepted:
        accepted.update(encoding for encoding, _ in ENCODINGS)
    return accepted


def matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class AssetCatalog:
    """Every file of a build, read once (a build is small): name -> Asset."""

    def __init__(self, assets: dict[str, Asset]) -> None:
        self.assets = assets

    @classmethod
    def from_tree(cls, root: Traversable) -> AssetCatalog:
        raw: dict[str, bytes] = {}

        def walk(node: Traversable, prefix: str) -> None:
            for child in node.iterdir():
                name = prefix + child.name
                if child.is_dir():
                    walk(child, name + "/")
                elif child.is_file():
                    raw[name] = child.read_bytes()

        walk(root, "")
        assets: dict[str, Asset] = {}
        for name, body in raw.items():
            if name.endswith((".br", ".gz")) or name.endswith(".py"):
                continue
            suffix = name[name.rfind(".") :] if "." in name else ""
            assets[name] = Asset(
                body=body,
                media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"),
                cache_control=IMMUTABLE if name.startswith(ASSETS_PREFIX) else REVALIDATE,
                etag_base=hashlib.sha256(body).hexdigest()[:20],
                encoded={
                    encoding: raw[name + ext] for encoding, ext in ENCODINGS if name + ext in raw
                },
            )
        return cls(assets)

    @classmethod
    def packaged(cls) -> AssetCatalog | None:
        """The build shipped as the `todo_web` resources; None when it is not there."""
        try:
            root = files(RESOURCES)
        except ModuleNotFoundError:
            return None
        catalog = cls.from_tree(root)
        return catalog if "index.html" in catalog.assets else None

    def get(self, name: str) -> Asset | None:
        return self.assets.get(name)


def serve(asset: Asset, request: Request) -> Response:
    encoding, body, etag = asset.choose(request.headers.get("accept-encoding", ""))
    headers = {
        "Cache-Control": asset.cache_control,
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, media_type=asset.media_type, headers=headers)
    return Response(body, media_type=asset.media_type, headers=headers)


def make_web_router(load: AssetCatalog | None = None) -> APIRouter:
    """Routes for `/` and `/assets/*`; the catalog is the packaged build unless given."""
    router = APIRouter(include_in_schema=False)
    state: dict[str, AssetCatalog | None] = {}

    def catalog() -> AssetCatalog | None:
        if "catalog" not in state:
            state["catalog"] = load if load is not None else AssetCatalog.packaged()
            if state["catalog"] is None:
                log.warning("web app not built: %s resources are missing", RESOURCES)
        return state["catalog"]

    def not_found() -> Response:
        return Response("no such asset", status_code=404)

    @router.api_route("/", methods=["GET", "HEAD"])
    async def index(request: Request) -> Response:
        found = catalog()
        asset = found.get("index.html") if found else None
        if asset is None:
            return Response(NOT_BUILT, status_code=503, media_type="text/html")
        return serve(asset, request)

    @router.api_route("/assets/{name:path}", methods=["GET", "HEAD"])
    async def asset(name: str, request: Request) -> Response:
        found = catalog()
        asset = found.get(ASSETS_PREFIX + name) if found else None
        return serve(asset, request) if asset is not None else not_found()

    return router


web_router = make_web_router()
