"""The voice page: `/` serves app/static/index.html, `/static/...` its CSS, JS modules and AudioWorklets.

Plain files, no build step. Only known file types under app/static/ are served (no dotfiles, no paths that
leave the folder), with a strict Content-Security-Policy: the page loads nothing from other origins and runs no
inline script, so nothing the server relays (team output, tool results) can become code.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",  # same-origin http(s) and ws(s)
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}
# Revalidate every time (cheap: ETag / Last-Modified); a new deploy is picked up without a hard reload.
CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


def _page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html", media_type=CONTENT_TYPES[".html"], headers={**SECURITY_HEADERS, **CACHE}
    )


@router.get("/")
async def index() -> FileResponse:
    return _page()


@router.get("/index.html")
async def index_html() -> FileResponse:
    return _page()


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "icon.svg", media_type=CONTENT_TYPES[".svg"], headers=CACHE)


def resolve_static(path: str) -> Path | None:
    """The file under STATIC_DIR for a request path, or None (unknown type, dotfile, outside the folder)."""
    if not path or "\\" in path or "\x00" in path:
        return None
    parts = path.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    candidate = (STATIC_DIR / path).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        return None
    if candidate.suffix.lower() not in CONTENT_TYPES:
        return None
    return candidate


@router.get("/static/{path:path}")
async def static_file(path: str) -> FileResponse:
    file = resolve_static(path)
    if file is None:
        raise HTTPException(status_code=404, detail="Not found.")
    headers = {**CACHE, "X-Content-Type-Options": "nosniff"}
    if file.suffix == ".js":
        # AudioWorklet modules and ES modules are fetched in CORS mode; same origin only.
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return FileResponse(file, media_type=CONTENT_TYPES[file.suffix.lower()], headers=headers)
