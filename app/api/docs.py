"""`/docs`: Swagger UI from files shipped in a pinned package (fastapi-offline: Swagger UI 5.32, which reads the
OpenAPI 3.1 FastAPI writes; the swagger-ui-bundle package stopped at Swagger UI 4.15, which cannot, and showed
"Unable to render this definition"), so it works offline.

FastAPI's own /docs loads Swagger UI from a CDN and is blank without internet. ReDoc is not served: its packaged
copy still loads a file from another host.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_URL = "/docs-assets"
ASSETS = {  # the only files served, with their types
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Research team API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
    )


@router.get(ASSETS_URL + "/{name}")
async def swagger_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="Not found.")
    return FileResponse(ASSETS_DIR / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"})
