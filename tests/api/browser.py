"""What the browser tests share: Debian's Chromium driven by Playwright, and an app served by uvicorn
on a free loopback port in a background thread.

Chromium or Playwright missing skips a browser test, except in CI, where it fails."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI
    from playwright.sync_api import Browser

CHROMIUM = os.environ.get("CONCIERGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def missing(reason: str) -> None:
    """Skip the test for ``reason`` (a missing browser), or fail it in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests", pytrace=False)
    pytest.skip(reason)


@contextmanager
def serve(app: FastAPI, **options: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a background thread on a free loopback port: its URL.
    ``options`` are uvicorn's (by default quiet: no log config, no access log)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race with other processes
    quiet: dict[str, Any] = {"log_config": None, "access_log": False, "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, **{"lifespan": "on", **quiet, **options}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, closed on leaving."""
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed")
    executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
