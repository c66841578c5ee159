import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never talk to real services, and never see a developer's real keys.
for name in (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GOOGLE_API_KEY",
    "GOOGLE_CSE_ID",
    "DATABASE_URL",
    "APP_TOKEN",
    "MODEL_CONFIG_FILE",
):
    os.environ.pop(name, None)
os.environ.setdefault("LOG_JSON", "true")

pytest_plugins = ["tests.fakes.pytest_plugin"]
