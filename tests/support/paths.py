"""Where things are: the repository, the tests' recorded fixtures, the installed console script."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ARTIFACTS = ROOT / "test-artifacts"  # what a test leaves for a person to look at (screenshots, reports)
CLI = str(Path(sys.executable).with_name("research-team"))
