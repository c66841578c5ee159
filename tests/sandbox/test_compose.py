"""docker-compose.yml and the Dockerfiles, read as data (there is no Docker engine here): the sandbox service is
isolated and limited, the app reaches it, and no secret goes near it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sandbox.processes import is_secret_name
from tests.support.paths import ROOT

# Service keys of the Compose Specification (compose-spec/compose-go schema), for a typo check.
COMPOSE_SERVICE_KEYS = {
    "annotations",
    "attach",
    "build",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _memory_bytes(value: str | int) -> int:
    text = str(value).lower()
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def test_services_and_keys(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"app", "sandbox", "postgres", "gateway", "worker", "redis"}
    for name, service in compose["services"].items():
        unknown = set(service) - COMPOSE_SERVICE_KEYS
        assert not unknown, f"{name}: not Compose keys: {unknown}"


def test_app_service(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    assert app["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert app["command"] == ["research-team", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert app["env_file"] == [{"path": ".env", "required": False}]
    assert app["environment"]["CODE_EXECUTOR"] == "sandbox"
    assert app["environment"]["SANDBOX_URL"] == "http://sandbox:8080"
    assert app["depends_on"]["sandbox"] == {"condition": "service_healthy"}
    assert app["depends_on"]["postgres"]["required"] is False
    assert set(app["networks"]) == {"default", "sandbox-net", "backend"}  # backend: PostgreSQL, never published


def test_sandbox_is_isolated_and_limited(compose: dict[str, Any]) -> None:
    sandbox = compose["services"]["sandbox"]
    assert sandbox["build"]["dockerfile"] == "Dockerfile.sandbox"
    # network: only the internal one, which only the app shares; nothing published
    assert sandbox["networks"] == ["sandbox-net"]
    assert compose["networks"]["sandbox-net"]["internal"] is True
    members = [n for n, s in compose["services"].items() if "sandbox-net" in (s.get("networks") or [])]
    assert sorted(members) == ["app", "sandbox", "worker"]  # what runs the Developer's code, and the sandbox
    assert "ports" not in sandbox and "network_mode" not in sandbox
    # limits
    assert 0 < float(sandbox["cpus"]) <= 2
    assert 128 * 1024**2 <= _memory_bytes(sandbox["mem_limit"]) <= 4 * 1024**3
    assert sandbox["memswap_limit"] == sandbox["mem_limit"]  # no swap on top
    assert 0 < int(sandbox["pids_limit"]) <= 512
    # filesystem and privileges
    assert sandbox["read_only"] is True
    assert sandbox["cap_drop"] == ["ALL"] and "cap_add" not in sandbox and not sandbox.get("privileged")
    assert "no-new-privileges:true" in sandbox["security_opt"]
    # relaxed for this service only, so bubblewrap can make each run's namespaces (see the compose comment)
    assert set(sandbox["security_opt"]) == {
        "no-new-privileges:true",
        "seccomp:unconfined",
        "apparmor:unconfined",
        "systempaths=unconfined",
    }
    assert not any(
        "unconfined" in opt
        for s in compose["services"].values()
        if s is not sandbox
        for opt in s.get("security_opt", [])
    )
    assert sandbox["user"].split(":")[0] not in ("0", "root")
    scratch = [v for v in sandbox["volumes"] if isinstance(v, dict) and v.get("target") == "/scratch"]
    assert scratch and scratch[0]["type"] == "tmpfs" and int(scratch[0]["tmpfs"]["size"]) > 0
    assert not any(isinstance(v, str) and ":" in v and not v.startswith("/") for v in sandbox["volumes"])  # no binds
    # no secrets: no env file, no secret-looking variables, no secrets/configs
    assert "env_file" not in sandbox and "secrets" not in sandbox
    assert not [k for k in sandbox.get("environment", {}) if is_secret_name(k)]
    assert sandbox["environment"]["SANDBOX_SCRATCH"] == "/scratch"
    assert "8080/health" in " ".join(sandbox["healthcheck"]["test"])


def test_postgres_is_optional(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres", "scale"] and "sandbox-net" not in postgres["networks"]


def test_scale_profile_runs_a_gateway_two_workers_redis_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    scaled = sorted(name for name, s in services.items() if "scale" in (s.get("profiles") or []))
    assert scaled == ["gateway", "postgres", "redis", "worker"]
    gateway, worker = services["gateway"], services["worker"]
    assert gateway["command"] == ["research-team", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert worker["command"] == ["research-team", "worker"] and worker["deploy"]["replicas"] == 2
    assert "ports" not in worker and "sandbox-net" not in gateway["networks"]  # code runs on workers only
    for role in (gateway, worker):
        assert role["environment"]["REDIS_URL"] == "redis://:${REDIS_PASSWORD:-}@redis:6379/0"  # Redis has a password
        assert role["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert role["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert role["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert worker["depends_on"]["sandbox"] == {"condition": "service_healthy"}
    assert services["redis"]["healthcheck"]["test"] == [
        "CMD-SHELL",
        "redis-cli ping | grep -q PONG",
    ]  # NOAUTH is no PONG


def test_dockerfiles() -> None:
    app = (ROOT / "Dockerfile").read_text()
    assert app.startswith("# ") and "FROM python:3.11-slim" in app and "pip install" in app
    assert 'CMD ["research-team", "serve", "--host", "0.0.0.0", "--port", "8000"]' in app
    assert "\nUSER app" in app
    sandbox = (ROOT / "Dockerfile.sandbox").read_text()
    assert "FROM python:3.11-slim" in sandbox and "\nUSER 10001:10001" in sandbox
    copied = [line.split()[1:-1] for line in sandbox.splitlines() if line.startswith("COPY ")]
    assert copied == [["sandbox/"]], "the image ships the sandbox package whole, and nothing else of ours"
    assert "apt-get install -y --no-install-recommends bubblewrap" in sandbox
    assert 'CMD ["python", "-m", "sandbox.runner"]' in sandbox
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored and ".git" in ignored


def test_the_runner_modules_in_the_image_are_standard_library_only() -> None:
    """The sandbox image installs no project dependencies: every module of the sandbox package imports only the
    standard library and its siblings (lint-imports keeps it off app, agents and tools too)."""
    import ast
    import sys

    copied = sorted((ROOT / "sandbox").glob("*.py"))
    shipped = {source.stem for source in copied}
    for source in copied:
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                ours = node.module == "sandbox"
                modules = [f"{node.module}.{alias.name}" for alias in node.names] if ours else [node.module]
            for module in modules:
                top = module.split(".")[0]
                if top == "sandbox":
                    assert module.split(".")[1] in shipped, f"{source} imports {module}, not in the image"
                else:
                    assert top in sys.stdlib_module_names or top in shipped, f"{source} imports {module}"


def test_the_sandbox_container_holds_every_concurrent_run_budget(compose: dict[str, Any]) -> None:
    """The container's limits are the outer wall, never the first to hit: they hold the budgets of every run it
    may carry at once (memory, the run's tmpfs and /dev/shm are all charged to the container)."""
    from sandbox.budget import SHM_MB, SUPERVISOR_PROCESSES, SandboxBudget

    sandbox = compose["services"]["sandbox"]
    env = {k: str(v) for k, v in sandbox["environment"].items()}
    budget = SandboxBudget.from_env(env)
    runs = int(env["SANDBOX_MAX_CONCURRENT"])
    scratch = next(v for v in sandbox["volumes"] if isinstance(v, dict) and v.get("target") == "/scratch")
    needed = runs * (budget.memory_mb + budget.disk_mb + SHM_MB) * 1024**2 + int(scratch["tmpfs"]["size"])
    assert needed < _memory_bytes(sandbox["mem_limit"])
    assert runs * (budget.max_processes + SUPERVISOR_PROCESSES + 2) < int(sandbox["pids_limit"])
