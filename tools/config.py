"""Settings of the team's tools, read from the environment and `.env` (pydantic-settings).

Every endpoint is a setting so tests can point a tool at a local fixture server; every tool has its own timeout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sandbox.budget import (
    DEFAULT_DISK_MB,
    DEFAULT_MAX_PROCESSES,
    DEFAULT_MEMORY_MB,
    DEFAULT_OUTPUT_BYTES,
    DEFAULT_TIMEOUT_S,
    SandboxBudget,
)

# Wikimedia's policy asks API clients for a User-Agent with a contact; deployments set HTTP_USER_AGENT to one.
DEFAULT_USER_AGENT = "TalkingResearchTeam/0.1 (AutoGen research assistant)"


class ToolSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- shared -------------------------------------------------------------------------------
    tool_output_max_chars: int = Field(4000, ge=500, description="Cap on any tool output that goes back to a model.")
    http_user_agent: str = Field(DEFAULT_USER_AGENT, description="User-Agent for API calls and page fetches.")

    # --- web_search ---------------------------------------------------------------------------
    google_api_key: SecretStr | None = None
    google_cse_id: str | None = None
    google_cse_url: str = "https://www.googleapis.com/customsearch/v1"
    web_search_primary: Literal["auto", "google", "duckduckgo"] = Field(
        "auto",
        description="auto: Google when GOOGLE_API_KEY and GOOGLE_CSE_ID are set, else DuckDuckGo. "
        "The other engine (when usable) answers if the first one fails or finds nothing.",
    )
    web_search_timeout_s: float = Field(10.0, gt=0)
    web_search_default_results: int = Field(5, ge=1, le=10)
    ddg_url: str = Field("https://html.duckduckgo.com/html/", description="DuckDuckGo's HTML endpoint (ddgs).")
    ddg_backend: str = Field("duckduckgo", description="ddgs backend(s), e.g. 'duckduckgo' or 'auto'.")
    ddg_region: str = "us-en"
    ddg_safesearch: Literal["on", "moderate", "off"] = "moderate"
    ddg_proxy: str | None = None

    # --- fetch_web_content --------------------------------------------------------------------
    fetch_timeout_s: float = Field(20.0, gt=0, description="Whole fetch, redirects and extraction included.")
    fetch_connect_timeout_s: float = Field(5.0, gt=0)
    fetch_read_timeout_s: float = Field(10.0, gt=0)
    fetch_max_bytes: int = Field(3_000_000, ge=10_000, description="Stop reading a response after this many bytes.")
    fetch_max_redirects: int = Field(5, ge=0, le=10)
    fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Test mode only: hosts ('host' or 'host:port') fetched although they are local or private.",
    )

    # --- wikipedia_search ---------------------------------------------------------------------
    wikipedia_api_url: str = "https://en.wikipedia.org/w/api.php"
    wikipedia_timeout_s: float = Field(10.0, gt=0)
    wikipedia_max_results: int = Field(3, ge=1, le=10)

    # --- arxiv_search -------------------------------------------------------------------------
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_timeout_s: float = Field(15.0, gt=0)
    arxiv_default_results: int = Field(5, ge=1, le=20)
    arxiv_retries: int = Field(1, ge=0, le=5)
    arxiv_min_interval_s: float = Field(3.0, ge=0, description="Spacing of arXiv API calls (arXiv asks for 3 s).")

    # --- code execution (the Developer) -------------------------------------------------------
    code_executor: Literal["bubblewrap", "local", "sandbox", "docker", "unsafe-local"] = Field(
        "bubblewrap",
        description="bubblewrap (local is the same): each run in its own namespaces (sandbox/run.py); "
        "sandbox/docker: the sandbox service of docker compose at sandbox_url, which runs the same; "
        "unsafe-local: a subprocess with rlimits and Landlock only, for operators who accept the risk.",
    )
    code_timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=600, description="Wall time of a run, all included.")
    code_output_max_bytes: int = Field(DEFAULT_OUTPUT_BYTES, ge=1000, description="Bytes of output kept from one run.")
    code_memory_mb: int = Field(DEFAULT_MEMORY_MB, ge=64, description="Memory of a whole run, all its processes.")
    code_max_processes: int = Field(
        DEFAULT_MAX_PROCESSES, ge=1, le=1024, description="Processes (threads included) a run may have at once."
    )
    code_disk_mb: int = Field(DEFAULT_DISK_MB, ge=1, description="Size of a session's scratch tmpfs.")
    code_file_max_mb: int = Field(64, ge=1, description="unsafe-local only: largest file a run may write.")
    code_max_concurrent: int = Field(2, ge=1)
    code_bwrap_path: str = Field("bwrap", description="The bubblewrap binary (a name on PATH or a path).")
    code_landlock: bool = Field(True, description="Landlock as an extra layer where the kernel has it.")
    code_require_landlock: bool = Field(False, description="unsafe-local only: refuse runs without Landlock.")
    code_env_passthrough: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["LANG", "LC_ALL", "TZ"],
        description="Variables copied into a run's environment; names that look like secrets never are.",
    )
    code_python: str | None = Field(
        None, description="Interpreter for runs (default: the server's own if the sandbox user can read it)."
    )
    code_scratch_root: Path | None = Field(
        None, description="Where sessions' files are kept between runs (default: temp dir)."
    )
    sandbox_url: str = "http://sandbox:8080"
    sandbox_start_timeout_s: float = Field(20.0, ge=0, description="How long start() waits for the sandbox.")

    @field_validator("fetch_allow_hosts", "code_env_passthrough", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        """Accept `a,b` as well as JSON lists from the environment."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def google_configured(self) -> bool:
        return bool(self.google_api_key and self.google_api_key.get_secret_value() and self.google_cse_id)

    @property
    def uses_sandbox_service(self) -> bool:
        return self.code_executor in ("docker", "sandbox")

    @property
    def code_budget(self) -> SandboxBudget:
        """One run's budget, as the sandbox service reads it from the same CODE_* variables."""
        return SandboxBudget(
            timeout_s=self.code_timeout_s,
            memory_mb=self.code_memory_mb,
            max_processes=self.code_max_processes,
            disk_mb=self.code_disk_mb,
            output_bytes=self.code_output_max_bytes,
        )

    def secret_values(self) -> list[str]:
        """Every configured secret, so logs and events can be scrubbed of them."""
        if self.google_api_key is None or not self.google_api_key.get_secret_value():
            return []
        return [self.google_api_key.get_secret_value()]
