"""Slack's request signatures: ``v0=hex(HMAC-SHA256(signing secret, "v0:{timestamp}:{body}"))`` in
``X-Slack-Signature``, with the timestamp in ``X-Slack-Request-Timestamp``. A request is refused
(401) when the signature does not match, when its timestamp is more than five minutes from now, or
when the same signed request was already seen (a replay inside the window)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from slack_sdk.signature import Clock, SignatureVerifier

from api.errors import Unauthorized

WINDOW_S = 5 * 60
"""How far a request's timestamp may be from now: Slack's own rule."""


class _Clock(Clock):
    """slack_sdk's clock interface over a plain function (tests move time)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class RequestGuard:
    """Checks each request from Slack before anything reads it. Replays are remembered per process
    for the window's length; past it the timestamp check refuses them anyway."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if the request is genuine, fresh and new; raise :class:`Unauthorized` if not."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not timestamp or not signature:
            raise Unauthorized("The request is not signed by Slack.", code="slack_unsigned")
        try:
            age = abs(self._clock() - int(timestamp))
        except ValueError:
            raise Unauthorized("The request's timestamp is invalid.", code="slack_stale") from None
        if age > WINDOW_S:
            raise Unauthorized("The request's timestamp is too old.", code="slack_stale")
        if not self._verifier.is_valid(body, timestamp, signature):
            raise Unauthorized("The request's Slack signature is wrong.", code="slack_signature")
        now = self._clock()
        with self._lock:
            self._seen = {s: t for s, t in self._seen.items() if t > now}
            if signature in self._seen:
                raise Unauthorized("That request was already received.", code="slack_replay")
            self._seen[signature] = now + 2 * WINDOW_S
