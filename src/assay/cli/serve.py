"""`assay serve`: the rating web app for raters and leads (uvicorn)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from assay.cli._app import G, app, err_console


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (use PostgreSQL for more than one team).")] = 1,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark cookies Secure (when a proxy serves https).")] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(help="Proxies trusted for X-Forwarded-Proto / -For.")] = "127.0.0.1",
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log every request.")] = True,
) -> None:
    """Serve the rating app: raters log in, rate, compare and rank; leads watch and steer campaigns."""
    import uvicorn

    store = G.store()  # migrates once here, before the workers start
    os.environ["ASSAY_DATABASE_URL"] = store.url
    if secure_cookies:
        os.environ["ASSAY_SECURE_COOKIES"] = "1"
    err_console.print(f"assay serve: store {store.describe()}, http://{host}:{port}/ ({workers} worker(s))")
    store.close()
    uvicorn.run("assay.server.app:app_factory", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips, access_log=access_log,
                log_level="info")
