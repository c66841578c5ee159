"""The layout a newcomer reads from `ls`: small modules with one job, folders of about a dozen modules. The
import rules between the folders are lint-imports' (pyproject.toml), run by .ci/run."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import ROOT

SOURCE = ("app", "agents", "tools", "sandbox")
MAX_LINES = 400
MAX_MODULES = 13  # "about a dozen"


def modules(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.py") if p.name != "__init__.py"]


def test_no_source_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for top in SOURCE
        for p in (ROOT / top).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_source_folder_holds_more_than_about_a_dozen_modules() -> None:
    folders = [ROOT / top for top in SOURCE] + [d for top in SOURCE for d in (ROOT / top).rglob("*") if d.is_dir()]
    crowded = {str(d.relative_to(ROOT)): len(modules(d)) for d in folders if len(modules(d)) > MAX_MODULES}
    assert crowded == {}
