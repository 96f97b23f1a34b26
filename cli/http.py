"""Small helpers to call the services' HTTP APIs with clear errors."""

from __future__ import annotations

from typing import Any

import httpx
import typer
from rich.console import Console

err_console = Console(stderr=True)


def call(
    method: str, url: str, *, token: str | None = None, json: Any = None, timeout: float = 30.0
) -> Any:
    """Call an API and return its JSON; exit with the server's message on failure."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url, json=json, headers=headers, timeout=timeout)
    except httpx.HTTPError as err:
        err_console.print(f"[red]cannot reach {url}: {err}[/red]")
        raise typer.Exit(2) from err
    if resp.status_code >= 400:
        err_console.print(
            f"[red]{method} {url} failed ({resp.status_code}): {_message(resp)}[/red]"
        )
        raise typer.Exit(1)
    return resp.json()


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("detail") or body)
    return str(body)
