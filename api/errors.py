"""The API's errors and the one JSON shape every error response has::

    {"error": {"type": "invalid_request_error", "code": "json_invalid", "message": "..."}}

(OpenAI's error shape, so the chat-completions facade needs no second one.)

    APIError
     ├── BadRequest            400
     ├── Unauthorized          401
     ├── Forbidden             403
     ├── NotFound              404
     ├── Conflict              409
     ├── PayloadTooLarge       413
     ├── UnsupportedMediaType  415
     ├── Unprocessable         422
     ├── RateLimited           429, with Retry-After
     ├── InternalError         500, for a failure already logged where it happened
     └── ServiceUnavailable    503, with Retry-After

Only ``api/`` raises HTTP errors; everything else raises its own typed exceptions. A database that
cannot be reached (:data:`DATABASE_OUTAGES`, whichever endpoint meets it) is a 503 too. Any other
exception is logged once, with its traceback, and answered 500 ``internal_error``
(:class:`UnexpectedErrors`).
"""

from __future__ import annotations

import logging
import math

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("api")

DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # the checkpoints' pool timing out included (PoolTimeout)
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,  # the store's pool exhausted
)
"""What a database that is down, restarting or out of connections raises: the store's (through
SQLAlchemy) and the checkpoints' (psycopg). The request may succeed later; nothing is wrong in it."""

OUTAGE_RETRY_AFTER_S = 5.0
"""How long a client is told to wait when a database is unreachable: the store reconnects on the
next request, the checkpoints' pool within seconds of the database's return."""

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class APIError(Exception):
    """An error the client caused or can act on; becomes a JSON response with ``status``."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(APIError):
    status = 403
    code = "forbidden"


class NotFound(APIError):
    status = 404
    code = "not_found"


class Conflict(APIError):
    status = 409
    code = "conflict"


class PayloadTooLarge(APIError):
    status = 413
    code = "body_too_large"


class UnsupportedMediaType(APIError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(APIError):
    status = 422
    code = "invalid_value"


class InternalError(APIError):
    """The server failed, and said why in its log already: a 500 that is not logged again."""

    status = 500
    code = "internal_error"


class _TryLater(APIError):
    """Refused for now; ``Retry-After`` says when to ask again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}


class RateLimited(_TryLater):
    status = 429
    code = "rate_limited"


class ServiceUnavailable(_TryLater):
    status = 503
    code = "service_unavailable"


def database_unavailable() -> ServiceUnavailable:
    """The answer to any of :data:`DATABASE_OUTAGES`."""
    return ServiceUnavailable(
        "The service cannot reach its database just now; try again shortly.", OUTAGE_RETRY_AFTER_S
    )


def error_response(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"type": _TYPES.get(status, "server_error"), "code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return 400, "json_invalid", f"The body is not valid JSON: {reason}."
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return 422, "invalid_body", "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Every error becomes the JSON shape above; nothing a client sends gives a 500. (Unexpected
    exceptions are :class:`UnexpectedErrors`' to answer.)"""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = exc.body
        if isinstance(body, bytes | bytearray) and body and not _is_json(request):
            return error_response(
                415,
                "Send the body as JSON with the header Content-Type: application/json.",
                "unsupported_media_type",
            )
        status, code, message = _validation_message(exc)
        return error_response(status, message, code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:
            return error_response(413, "The request body is too large.", "body_too_large")
        if exc.status_code == 400:
            # Starlette's answer to a body it cannot decode at all (binary, not UTF-8).
            return error_response(400, "The body could not be read as JSON.", "body_unreadable")
        if exc.status_code == 404:
            return error_response(404, f"No route {request.url.path}.", "no_route")
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        return error_response(exc.status_code, message, "http_error", dict(exc.headers or {}))

    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        # Expected during a failover or restart: one line, not a traceback.
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
        return await _api_error(request, database_unavailable())

    for outage in DATABASE_OUTAGES:
        app.add_exception_handler(outage, _outage)


class UnexpectedErrors:
    """Middleware answering any exception the handlers above did not: logged once with its
    traceback, then a JSON 500. (Starlette's handler for ``Exception`` re-raises after answering,
    so uvicorn logs the error again and closes the client's keep-alive connection.)

    Outside the access log and rate limits, whose own exceptions it then answers too, and inside
    CORS, so that a browser can read the 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            if started:
                # Part of the response is out: only closing the connection tells the client it
                # is cut short. uvicorn does that, and logs the error (once).
                raise
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = error_response(500, "Internal error; it has been logged.", "internal_error")
            await response(scope, receive, send)
