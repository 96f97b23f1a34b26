"""`byre`: one command line for the appliance, central, the demo and the contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli import demo, device, plugin
from cli.http import call

app = typer.Typer(help="Byre: edge-first livestock monitoring.", no_args_is_help=True)
appliance_app = typer.Typer(help="Run and inspect the farm appliance.", no_args_is_help=True)
central_app = typer.Typer(help="Run and administer the central server.", no_args_is_help=True)
contracts_app = typer.Typer(help="Wire contracts shared by both sides.", no_args_is_help=True)
app.add_typer(appliance_app, name="appliance")
app.add_typer(central_app, name="central")
app.add_typer(contracts_app, name="contracts")
app.add_typer(device.app, name="device")
app.add_typer(plugin.app, name="plugin")
app.command("demo")(demo.demo)

console = Console()

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", exists=True, dir_okay=False, help="Settings file (TOML)."),
]
ApplianceUrl = Annotated[
    str, typer.Option("--appliance", help="Appliance API URL.", envvar="BYRE_APPLIANCE_URL")
]
ApplianceToken = Annotated[
    str,
    typer.Option(
        "--token",
        help="Technician API token.",
        envvar="BYRE_APPLIANCE_API_TOKEN",
        show_default=False,
    ),
]
CentralUrl = Annotated[
    str, typer.Option("--url", help="Central API URL.", envvar="BYRE_CENTRAL_URL")
]
AdminToken = Annotated[
    str,
    typer.Option(
        "--token",
        help="Central admin token.",
        envvar="BYRE_CENTRAL_ADMIN_TOKEN",
        show_default=False,
    ),
]


@appliance_app.command("run")
def appliance_run(config: ConfigOption = None) -> None:
    """Run the appliance service in the foreground."""
    from appliance.app import run
    from appliance.errors import SettingsError
    from appliance.settings import load_settings

    try:
        settings = load_settings(config)
    except SettingsError as err:
        console.print(f"[red]invalid settings: {err}[/red]")
        raise typer.Exit(2) from err
    run(settings)


@appliance_app.command("status")
def appliance_status(
    appliance: ApplianceUrl = "http://127.0.0.1:8080", token: ApplianceToken = ""
) -> None:
    """Show enrolment, outbox and sync state of a running appliance."""
    console.print_json(json.dumps(call("GET", f"{appliance}/api/v1/status", token=token)))


@appliance_app.command("parked")
def appliance_parked(
    appliance: ApplianceUrl = "http://127.0.0.1:8080", token: ApplianceToken = ""
) -> None:
    """List events central refused, parked on the appliance with the reason."""
    console.print_json(json.dumps(call("GET", f"{appliance}/api/v1/sync/parked", token=token)))


@app.command("enroll")
def enroll(
    server: Annotated[str, typer.Option(help="Central URL, e.g. https://central.example")],
    code: Annotated[str, typer.Option(help="One-time enrolment code from central.")],
    appliance: ApplianceUrl = "http://127.0.0.1:8080",
    token: ApplianceToken = "",
) -> None:
    """Enrol this appliance at central with a one-time code."""
    reply = call(
        "POST",
        f"{appliance}/api/v1/enrolment",
        token=token,
        json={"server_url": server, "code": code},
    )
    console.print(
        f"enrolled: appliance [bold]{reply['appliance_id']}[/bold] of farm {reply['farm_id']}"
    )


@central_app.command("run")
def central_run(config: ConfigOption = None) -> None:
    """Run the central server in the foreground."""
    from sync_server.app import run
    from sync_server.errors import SettingsError
    from sync_server.settings import load_settings

    try:
        settings = load_settings(config)
    except SettingsError as err:
        console.print(f"[red]invalid settings: {err}[/red]")
        raise typer.Exit(2) from err
    run(settings)


@central_app.command("enrolment-code")
def enrolment_code(
    farm: Annotated[str, typer.Option(help="Farm id the appliance will belong to.")],
    url: CentralUrl = "http://127.0.0.1:8000",
    token: AdminToken = "",
    ttl: Annotated[int, typer.Option(help="Seconds the code stays valid.")] = 86_400,
) -> None:
    """Create a one-time enrolment code for a farm."""
    reply = call(
        "POST",
        f"{url}/api/v1/enrolment-codes",
        token=token,
        json={"farm_id": farm, "ttl_seconds": ttl},
    )
    console.print(
        f"code [bold]{reply['code']}[/bold] for farm {reply['farm_id']}, "
        f"valid until {reply['expires_at']}"
    )


@contracts_app.command("export")
def contracts_export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Where to write the schemas.")],
) -> None:
    """Write the JSON Schema of every wire message into DIRECTORY."""
    from contracts.schema import export_schemas

    written = export_schemas(directory)
    console.print(f"wrote {len(written)} schemas to {directory}")


if __name__ == "__main__":
    app()
