"""The first hour of a new user, as issue 16 found it: each snag it hit, held to its fix."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.support.cli import cli_env, serve_process
from tests.support.paths import ROOT


async def test_a_copied_env_example_starts_the_server(tmp_path: Path) -> None:
    """`cp .env.example .env` and start without filling the key: it serves, and says no model is configured.
    OPENAI_API_KEY is also set empty in the environment, as docker compose's env_file does."""
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    env = cli_env(("OPENAI_", "APP_", "DATABASE_"), OPENAI_API_KEY="")
    async with serve_process(env, tmp_path, stderr=subprocess.PIPE) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            health = (await server.healthy()).json()
            assert health["model_access"] is False
            assert (await http.get("/runs")).status_code == 200
    err = server.stderr
    assert b"Traceback" not in err, err.decode(errors="replace")[-2000:]


def _readme_settings() -> set[str]:
    """Every setting the documentation's tables name (docs/*.md: the reference moved out of the README)."""
    names: set[str] = set()
    for page in sorted((ROOT / "docs").glob("*.md")):
        for line in page.read_text().splitlines():
            if line.startswith("| `"):
                names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_env_example_lists_every_documented_setting() -> None:
    documented = _readme_settings()
    assert len(documented) > 40  # the README's tables were found
    example = (ROOT / ".env.example").read_text()
    missing = sorted(n for n in documented if not re.search(rf"^#?\s*{n}=", example, re.M))
    assert missing == []


def test_yaml_model_config_needs_no_dev_extra() -> None:
    """MODEL_CONFIG_FILE may be YAML, so the image (main dependencies only) must have pyyaml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(re.match(r"pyyaml\b", dep, re.I) for dep in project["dependencies"])


def test_readme_states_python_versions_and_has_troubleshooting() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11 or 3.12" in readme
    assert "(docs/troubleshooting.md)" in readme and (ROOT / "docs" / "troubleshooting.md").is_file()
    assert 'requires-python = ">=3.11,<3.13"' in (ROOT / "pyproject.toml").read_text()


def test_compose_builds_the_app_instead_of_reusing_a_stale_image() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    app = compose.split("\n  app:\n", 1)[1].split("\n  sandbox:\n", 1)[0]
    assert "pull_policy: build" in app


async def test_docs_load_nothing_from_another_host(tmp_path: Path) -> None:
    from app.core.settings import Settings
    from app.main import create_app

    app = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", openai_api_key=None),
        researcher_tools=[],
        developer_tools=lambda sid: [],
        configure_logs=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://localhost") as http,
    ):
        for page in ("/docs",):
            response = await http.get(page)
            assert response.status_code == 200, page
            urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", response.text)
            assert urls, page
            for url in urls:
                parts = urlsplit(url)
                assert not parts.scheme and not parts.netloc, f"{page} loads {url}"
                if url.startswith("/"):
                    asset = await http.get(url)
                    assert asset.status_code == 200, url
                    assert len(asset.content) > 100, url
