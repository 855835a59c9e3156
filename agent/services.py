"""The services a run needs (store, classifier, knowledge base, LLM), from the context or the settings."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from agent.context import Context

if TYPE_CHECKING:
    from agent.llm import LLM
    from classifiers import Classifier
    from knowledge import KnowledgeBase
    from tools.store import Store

log = logging.getLogger(__name__)
_lock = threading.Lock()
_defaults: dict[str, Any] = {}


def _default(name: str) -> Any:
    """A process-wide service opened from the settings on first use (None if it cannot be)."""
    with _lock:
        if name in _defaults:
            return _defaults[name]
        from tools.settings import get_settings

        settings = get_settings()
        value: Any = None
        if name == "store":
            from tools.store import open_store

            value = open_store()
        elif name == "classifier":
            from classifiers import Classifier, ModelNotFoundError

            try:
                value = Classifier.from_pretrained()
            except ModelNotFoundError:
                log.warning("no trained classifier: understanding falls back to rules")
        elif name == "kb":
            from knowledge import KnowledgeBase

            value = KnowledgeBase(settings)
        elif name.startswith("llm:"):
            from agent.llm import make_llm

            value = make_llm(name.removeprefix("llm:"), settings)
        _defaults[name] = value
        return value


class Services:
    """The run's services: those the context carries, else the process-wide ones, opened lazily
    (a turn that never searches never loads the knowledge base)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def store(self) -> Store:
        store: Store = self.ctx.store if self.ctx.store is not None else _default("store")
        return store

    @property
    def classifier(self) -> Classifier | None:
        clf: Classifier | None = self.ctx.classifier or _default("classifier")
        return clf

    @property
    def kb(self) -> KnowledgeBase | None:
        kb: KnowledgeBase | None = self.ctx.kb if self.ctx.kb is not None else _default("kb")
        return kb

    @property
    def llm(self) -> LLM | None:
        if self.ctx.llm is not None or self.ctx.llm_mode == "none":
            return self.ctx.llm
        llm: LLM | None = _default(f"llm:{self.ctx.llm_mode}")
        return llm


def resolve(ctx: Context) -> Services:
    return Services(ctx)
