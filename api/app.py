"""The FastAPI app: chat REST + SSE, the OpenAI-compatible facade, the human agents' endpoints and
the operations endpoints.

app = create_app()                      # services opened from the settings (what `serve` runs)
app = create_app(settings, agent=agent) # around an agent a caller built (tests, embedding)
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent import Agent
from api import conversations, handoff, openai_compat, ops, slack, web
from api.deps import Runtime
from api.errors import (
    APIError,
    PayloadTooLarge,
    RateLimited,
    UnexpectedErrors,
    error_response,
    install_error_handlers,
)
from api.limits import TokenBucket
from api.observability import count_llm_tokens
from api.security import IdentityVerifier, TokenSigner, load_shop_secret
from tools.settings import Settings, get_settings

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger("api")

DOCS_ASSETS = "/docs-assets"
"""Where the API docs' scripts, styles and icon are served from."""


def build_agent(settings: Settings) -> tuple[Agent, list[Callable[[], None]]]:
    """The agent over the configured store, classifier, knowledge base, LLM and checkpointer, and
    how to close what was opened."""
    from agent import Context, make_llm, open_checkpointer
    from classifiers import DEFAULT_MODEL_NAME, Classifier, ModelNotFoundError
    from knowledge import KnowledgeBase
    from tools import open_store

    closers: list[Callable[[], None]] = []
    store = open_store(settings.resolved_store_url)
    closers.append(store.dispose)
    classifier: Classifier | None
    try:
        classifier = Classifier.from_pretrained(settings.resolved_model_dir / DEFAULT_MODEL_NAME)
    except ModelNotFoundError:
        log.warning("no trained classifier (run `concierge train`): /readyz will say so")
        classifier = None
    kb = KnowledgeBase(settings)
    closers.append(kb.close)
    llm = make_llm(settings.agent_llm, settings)
    if llm is not None:
        closers.append(llm.close)
    checkpointer = open_checkpointer(settings=settings)
    closers.append(checkpointer.close)
    context = Context.from_settings(settings, store=store, classifier=classifier, kb=kb, llm=llm)
    return Agent(context, checkpointer.saver), closers


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class _BodyTooLarge(Exception):
    """The body went past ``api_max_body_bytes`` while being read."""


class _AccessAndLimits:
    """Per request: the per-address rate limit on ``/v1`` and the body size limit, then one log
    line and a metric. (Starlette's own body limit answers in plain text; this one in JSON.)"""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        path: str = scope["path"]
        limit = self.runtime.settings.api_max_body_bytes
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                if too_large:
                    # Whatever the app made of the cut-off body, the client hears why it was cut.
                    raise _BodyTooLarge
                status = message["status"]
            await send(message)

        refusal = self._refusal(scope, path)
        try:
            if refusal is None:
                try:
                    await self.app(scope, limited_receive, send_status)
                except _BodyTooLarge:
                    too_large = False  # answered below, once
                    refusal = PayloadTooLarge("The request body is too large.")
            if refusal is not None:
                response = error_response(
                    refusal.status, refusal.message, refusal.code, refusal.headers()
                )
                await response(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            seconds = time.perf_counter() - started
            self.runtime.metrics.requests.labels(scope["method"], template, str(status)).inc()
            log.info(
                "%s %s %s",
                scope["method"],
                template,
                status,
                extra={"status": status, "ms": round(seconds * 1000, 1), "route": template},
            )

    def _refusal(self, scope: Scope, path: str) -> APIError | None:
        """A request refused before the app sees it: over the address's rate, or a declared body
        over the size limit (refused before reading a byte of it)."""
        limiter = self.runtime.ip_limiter
        if limiter is not None and path.startswith("/v1/") and scope["method"] != "OPTIONS":
            client = scope.get("client")
            wait = limiter.take(client[0] if client else "unknown")
            if wait > 0:
                self.runtime.metrics.rate_limited.labels("ip").inc()
                return RateLimited(
                    f"Too many requests from this address; try again in {wait:.0f} s.", wait
                )
        if _declared_length(scope) > self.runtime.settings.api_max_body_bytes:
            return PayloadTooLarge("The request body is too large.")
        return None


def create_app(
    settings: Settings | None = None,
    agent: Agent | None = None,
    *,
    slack_client: WebClient | None = None,
    **overrides: Any,
) -> FastAPI:
    """The chat service. Without ``agent`` it opens the configured services (and closes them at
    shutdown); ``overrides`` replace settings fields (``create_app(api_ip_burst=2)``);
    ``slack_client`` replaces the Slack Web API client made from the bot token. Raises
    :class:`api.security.ShopSecretError` when there is no shop secret it may serve with."""
    settings = settings or get_settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
    shop_secret, _ = load_shop_secret(settings)
    closers: list[Callable[[], None]] = []
    if agent is None:
        agent, closers = build_agent(settings)
    runtime = Runtime(
        settings=settings,
        agent=agent,
        signer=TokenSigner(shop_secret, settings.api_token_ttl_hours * 3600),
        identities=IdentityVerifier(shop_secret, settings.api_identity_max_age_s),
        ip_limiter=TokenBucket(settings.api_ip_rate_per_minute, settings.api_ip_burst),
        conversation_limiter=TokenBucket(
            settings.api_conversation_rate_per_minute, settings.api_conversation_burst
        ),
        closers=closers,
    )
    if agent.context.llm is not None:
        count_llm_tokens(agent.context.llm.chat_model, runtime.metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            runtime.close()

    # /docs and /redoc with their scripts and styles served by this app, not a CDN: they work
    # offline and behind a firewall.
    app = FastAPIOffline(
        title="concierge",
        summary="An AI customer-support agent for e-commerce shops: chat API.",
        version="0.1.0",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(conversations.router)
    app.include_router(openai_compat.router)
    app.include_router(handoff.router)
    app.include_router(ops.router)
    app.include_router(web.router)
    desk = slack.mount(runtime, slack_client)
    if desk is not None:
        runtime.on_ticket = desk.notify
        runtime.closers.append(desk.close)
        app.include_router(desk.router)
    app.state.slack = desk
    app.add_middleware(_AccessAndLimits, runtime=runtime)
    app.add_middleware(UnexpectedErrors)
    # Outermost, so that refusals (429, 413) still carry the headers a browser needs to read them.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api_cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    return app
