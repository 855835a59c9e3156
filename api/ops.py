"""Operations endpoints: liveness, readiness of every service a turn needs, Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from agent import Agent
from api.deps import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _check(probe: Callable[[], str]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # a readiness probe reports any failure, whatever raised it
        detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def readiness(agent: Agent) -> dict[str, dict[str, Any]]:
    """Each service a turn needs, probed: ``{"store": {"ok": True, "detail": ..., "ms": ...}, ...}``."""
    ctx = agent.context

    def store() -> str:
        if ctx.store is None:
            raise RuntimeError("no store configured")
        with ctx.store.read() as s:
            s.execute(text("SELECT 1"))
        return ctx.store.url.get_backend_name()

    def checkpoints() -> str:
        agent.graph.get_state(Agent.config("readyz-probe"))
        return type(agent.graph.checkpointer).__name__

    def vector_store() -> str:
        if ctx.kb is None:
            raise RuntimeError("no knowledge base configured")
        chunks = ctx.kb.store.count()
        if chunks == 0:
            raise RuntimeError("the knowledge base is empty: run `concierge kb ingest`")
        return f"{chunks} chunks"

    def classifier() -> str:
        if ctx.classifier is None:
            raise RuntimeError("no trained classifier: run `concierge train`")
        return "loaded"

    def llm() -> str:
        if ctx.llm_mode == "none":
            return "off: replies come from templates"
        if ctx.llm is None:
            raise RuntimeError(f"LLM mode {ctx.llm_mode} but no LLM")
        server = getattr(ctx.llm, "server", None)
        if server is not None and not server.running:
            raise RuntimeError("the local LLM server is not running")
        # A remote endpoint is not called here: a probe every few seconds would cost tokens.
        return f"{ctx.llm_mode}: {'running' if server is not None else 'configured'}"

    probes = {
        "store": store,
        "checkpoints": checkpoints,
        "vector_store": vector_store,
        "classifier": classifier,
        "llm": llm,
    }
    return {name: _check(probe) for name, probe in probes.items()}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready to answer customers: 200 when every service is, else 503 naming what is not."""
    checks = await run_in_threadpool(readiness, runtime.agent)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics")
def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
