"""What the service tells its operators: Prometheus metrics and structured JSON logs with PII masked."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from prometheus_client import CollectorRegistry, Counter, Histogram

from classifiers import mask_pii

_TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The service's metrics, in a registry of their own (one per app, so tests do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.turn_seconds = Histogram(
            "concierge_turn_seconds",
            "Time to answer one customer message.",
            ["channel"],
            buckets=_TURN_BUCKETS,
            registry=r,
        )
        self.turns = Counter(
            "concierge_turns", "Customer messages answered.", ["channel", "outcome"], registry=r
        )
        self.intents = Counter(
            "concierge_intents", "Messages by classified intent.", ["intent"], registry=r
        )
        self.escalations = Counter(
            "concierge_escalations", "Turns handed to a human, by reason.", ["reason"], registry=r
        )
        self.tool_calls = Counter(
            "concierge_tool_calls", "Tool calls by tool and outcome.", ["tool", "ok"], registry=r
        )
        self.tool_errors = Counter(
            "concierge_tool_errors", "Tool calls that failed, by tool.", ["tool"], registry=r
        )
        self.llm_tokens = Counter(
            "concierge_llm_tokens", "LLM tokens used, by kind.", ["kind"], registry=r
        )
        self.requests = Counter(
            "concierge_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.rate_limited = Counter(
            "concierge_rate_limited", "Requests refused by a rate limit.", ["scope"], registry=r
        )


class TokenUsage(BaseCallbackHandler):
    """Counts the tokens an LLM reports into ``concierge_llm_tokens`` (attached to the chat model
    itself, so it sees every call whichever thread makes it)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations:
                message = generation.message if isinstance(generation, ChatGeneration) else None
                usage = message.usage_metadata if isinstance(message, AIMessage) else None
                if usage:
                    self.metrics.llm_tokens.labels("input").inc(usage.get("input_tokens", 0))
                    self.metrics.llm_tokens.labels("output").inc(usage.get("output_tokens", 0))


def count_llm_tokens(chat_model: Any, metrics: Metrics) -> None:
    """Attach :class:`TokenUsage` to a LangChain chat model."""
    handler = TokenUsage(metrics)
    callbacks = chat_model.callbacks
    if callbacks is None:
        chat_model.callbacks = [handler]
    elif isinstance(callbacks, list):
        callbacks.append(handler)
    else:
        callbacks.add_handler(handler, inherit=False)


# Record attributes that are not ``extra=`` fields (uvicorn's ANSI-coloured copy of its message too).
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra=`` fields, with
    e-mails, card numbers, phones, addresses and names masked in every string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_pii(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = mask_pii(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = mask_pii(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the whole process (uvicorn's own loggers included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
