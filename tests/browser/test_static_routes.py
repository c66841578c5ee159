"""The page's router (no browser needed): what it serves, with which headers, and what it refuses."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.static import STATIC_DIR, router


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_index_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/js/main.js">' in response.text
    assert client.get("/index.html").text == response.text


def test_modules_and_worklets_are_javascript(client: TestClient) -> None:
    for path in ("js/main.js", "js/worklets/capture_processor.js", "js/worklets/playback_processor.js"):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/javascript"), path
    assert client.get("/static/css/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../api/static.py",
        "/static/%2e%2e/api/static.py",
        "/static/..%2fmain.py",
        "/static/",
        "/static/js/",
        "/static/.hidden",
        "/static/js/missing.js",
        "/static/js/main.js%00.css",
    ],
)
def test_nothing_outside_the_static_folder_or_unknown_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_every_file_the_page_references_exists() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert (STATIC_DIR / ref).is_file(), ref
    for module in (STATIC_DIR / "js").rglob("*.js"):
        for ref in re.findall(r'from "\./([^"]+)"', module.read_text()):
            assert (module.parent / ref).is_file(), f"{module.name} imports missing {ref}"


def test_no_inline_script_or_style_and_no_inner_html() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script> would be blocked by the CSP"
    assert " style=" not in html and "<style" not in html
    for module in (STATIC_DIR / "js").rglob("*.js"):
        source = re.sub(r"^\s*//.*$", "", module.read_text(), flags=re.M)  # code, not comments
        assert "innerHTML" not in source and "outerHTML" not in source and "insertAdjacentHTML" not in source, module
        assert "eval(" not in source and "new Function" not in source, module
        assert "http://" not in source.replace("http://www.w3.org/2000/svg", ""), f"{module.name}: no external URLs"
