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
        str,
        typer.Option(
            help="Proxies trusted to set X-Forwarded-For (comma separated, * for any): the rate "
            "limits then count the client's address, not the proxy's."
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the chat API (REST, Server-Sent Events, OpenAI-compatible facade, /metrics)."""
    import uvicorn

    from api.app import create_app
    from api.observability import configure_logging

    configure_logging(log_level)
    app = create_app()
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
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )
