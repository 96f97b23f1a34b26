"""The farmer's web UI: `/` serves the single page, `/static/...` its modules, styles and texts.

Everything comes from the appliance itself (no build step, nothing from the internet); every
reply carries a strict Content-Security-Policy so the page can load nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

routes = web.RouteTableDef()


def _file(path: Path) -> web.FileResponse:
    response = web.FileResponse(path, headers=SECURITY_HEADERS | {"Cache-Control": "no-cache"})
    response.content_type = CONTENT_TYPES[path.suffix]
    return response


@routes.get("/")
async def index(request: web.Request) -> web.FileResponse:
    return _file(STATIC_DIR / "index.html")


@routes.get("/static/{path:.+}")
async def static(request: web.Request) -> web.FileResponse:
    """A file under `static/` with a known type; anything else (or `..`) is a 404."""
    root = STATIC_DIR.resolve()
    try:
        path = (root / request.match_info["path"]).resolve()
    except (OSError, ValueError) as err:
        raise web.HTTPNotFound() from err
    if not path.is_relative_to(root) or not path.is_file() or path.suffix not in CONTENT_TYPES:
        raise web.HTTPNotFound()
    return _file(path)
