"""``concierge serve``: run the chat API with uvicorn, logging JSON lines with PII masked."""

from __future__ import annotations

from typing import Annotated

import typer


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies trusted to set X-Forwarded-For (comma separated, * for any): the rate "
            "limits then count the client's address, not the proxy's. Default: "
            "CONCIERGE_API_TRUSTED_PROXIES (empty: none).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the chat API (REST, Server-Sent Events, OpenAI-compatible facade, /metrics)."""
    import uvicorn
    from pydantic import SecretStr, ValidationError

    from api.app import create_app
    from api.observability import configure_logging
    from api.security import ShopSecretError, load_shop_secret
    from tools.settings import get_settings, is_placeholder

    try:
        settings = get_settings()
        secret, secret_file = load_shop_secret(settings)
    except ValidationError as e:
        messages = "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in e.errors())
        typer.echo(f"error: {messages}", err=True)
        raise typer.Exit(2) from e
    except ShopSecretError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    if secret_file is not None:
        typer.echo(
            f"The shop secret is in {secret_file}: the shop's server signs customer identities "
            "with it (api/README.md); set CONCIERGE_SHOP_SECRET to use another.",
            err=True,
        )
    elif is_placeholder(secret):
        typer.echo(
            "warning: serving with a placeholder shop secret (CONCIERGE_ALLOW_PLACEHOLDER_SECRET): "
            "anyone can sign any customer's identity",
            err=True,
        )
    settings = settings.model_copy(update={"shop_secret": SecretStr(secret)})
    proxies = settings.api_trusted_proxies
    if forwarded_allow_ips is not None:
        proxies = [part.strip() for part in forwarded_allow_ips.split(",") if part.strip()]
    configure_logging(log_level)
    app = create_app(settings)
    typer.echo(
        f"concierge is listening: open http://{host}:{port}/ in a browser for the demo shop and its "
        "chat widget (API docs at /docs)",
        err=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the JSON logging configured above
        log_level=log_level,
        access_log=False,  # the app logs each request itself, PII masked
        # Off without a proxy to trust: uvicorn's own default believes any loopback peer, so a
        # client on the host could name a new address on every request and escape the rate limits.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
    )
