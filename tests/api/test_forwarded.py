"""``X-Forwarded-For`` through ``concierge serve`` for real: trusted only from the configured proxies,
so a client cannot escape the per-address rate limit by naming a new address on every request."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from agent import Agent, Context
from api.app import create_app
from api.cli import app as cli
from tests.agent.conftest import QUIET
from tests.api.browser import serve
from tests.api.conftest import SHOP_SECRET, api_settings
from tools.settings import get_settings


@contextmanager
def served(app: FastAPI, tmp: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``app`` on a free loopback port, served by uvicorn with the options ``concierge serve
    [args]`` gives it in an environment of ``env`` alone: its URL."""
    options: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        for name in [name for name in os.environ if name.startswith("CONCIERGE_")]:
            mp.delenv(name)
        for name, value in {"CONCIERGE_VAR_DIR": str(tmp), **(env or {})}.items():
            mp.setenv(name, value)
        mp.setenv("CONCIERGE_SHOP_SECRET", SHOP_SECRET)
        mp.chdir(tmp)  # no developer .env
        # Everything but uvicorn's options is the test's: its app, and pytest's hold on the logs.
        mp.setattr("api.app.create_app", lambda settings: app)
        mp.setattr("api.observability.configure_logging", lambda level: None)
        mp.setattr("uvicorn.run", lambda app, **given: options.update(given))
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["serve", *args])
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    options = {k: v for k, v in options.items() if k not in ("host", "port")}
    with pytest.MonkeyPatch.context() as mp:
        # As `serve`'s configure_logging does: uvicorn's records go to the root logger's handlers.
        for name in ("uvicorn", "uvicorn.error"):
            mp.setattr(logging.getLogger(name), "propagate", True)
        with serve(app, **options) as url:
            yield url


@pytest.fixture
def strict(tmp_path: Path) -> FastAPI:
    """The app allowing two requests per client address, then one a minute."""
    settings = api_settings(tmp_path, api_ip_burst=2, api_ip_rate_per_minute=1)
    return create_app(settings, agent=Agent(Context(**QUIET)))


def _statuses(url: str, forwarded_for: list[str]) -> list[int]:
    """The statuses of starting a conversation once per ``forwarded_for`` address claimed."""
    with httpx.Client(base_url=url) as client:
        return [
            client.post("/v1/conversations", headers={"X-Forwarded-For": address}).status_code
            for address in forwarded_for
        ]


def test_a_client_naming_a_new_address_each_time_is_still_rate_limited(
    strict: FastAPI, tmp_path: Path
) -> None:
    with served(strict, tmp_path) as url:
        statuses = _statuses(url, ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"])
    assert statuses == [201, 201, 429, 429]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ((), {"CONCIERGE_API_TRUSTED_PROXIES": "10.0.0.5, 127.0.0.1"}),
        (("--forwarded-allow-ips", "127.0.0.1"), {}),
    ],
    ids=["setting", "option"],
)
def test_a_configured_proxy_names_the_client_the_limit_counts(
    strict: FastAPI, tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    with served(strict, tmp_path, *args, env=env) as url:
        statuses = _statuses(url, ["203.0.113.7"] * 3 + ["203.0.113.8"])
    # The third request of one client behind the proxy is refused; another client is not.
    assert statuses == [201, 201, 429, 201]


def test_the_option_overrides_the_setting(strict: FastAPI, tmp_path: Path) -> None:
    env = {"CONCIERGE_API_TRUSTED_PROXIES": "127.0.0.1"}
    with served(strict, tmp_path, "--forwarded-allow-ips", "", env=env) as url:
        statuses = _statuses(url, ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    assert statuses == [201, 201, 429]
