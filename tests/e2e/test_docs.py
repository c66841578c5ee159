"""The README's first screen is what a newcomer needs; the reference lives in docs/ (a MkDocs site built with
--strict); the documented MCP snippet runs as written."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.paths import ROOT
from tests.support.scripted import PARIS_ANSWER, paris_script


def test_the_readme_starts_with_the_two_commands_and_stays_short() -> None:
    readme = (ROOT / "README.md").read_text()
    first = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[0].endswith("research-team serve --port 8000") and "pip install -e ." in commands[0]
    assert "[dev]" not in commands[0]  # the run command installs what runs
    assert commands[1].endswith("python -m pytest") and "'.[dev]'" in commands[1]  # the tests, what they need
    assert len(readme.splitlines()) <= 90  # a screen of prose, and the architecture's tree and picture
    assert "![" in readme and (ROOT / "docs" / "images" / "page.png").is_file()


def test_every_docs_page_is_in_the_site_and_every_readme_link_exists() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [p for item in nav for p in pages(item)]
        if isinstance(nav, dict):
            return [p for value in nav.values() for p in pages(value)]
        return []

    listed = set(pages(config["nav"]))
    assert listed == {p.name for p in (ROOT / "docs").glob("*.md")}
    for link in re.findall(r"\]\((docs/[^)]+)\)", (ROOT / "README.md").read_text()):
        assert (ROOT / link).exists(), link


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert (tmp_path / "site" / "models" / "index.html").is_file()


async def test_the_documented_mcp_snippet_runs_as_written(tmp_path: Path) -> None:
    token = "docs-test-token-" + "d" * 24
    text = (ROOT / "docs" / "mcp.md").read_text()
    code = text.split("```python", 1)[1].split("```", 1)[0]
    app = scripted_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=0.05)), app_token=token)
    async with live_app(app) as server:
        code = code.replace('"http://127.0.0.1:8000/mcp", "your-token"', f'"{server.http_url}/mcp", "{token}"')
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    printed = out.decode()
    assert PARIS_ANSWER in printed and "searches the web" in printed  # the answer and the steps as they happened
