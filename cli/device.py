"""`byre device`: provision devices, list them, send commands, run the simulator."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cli.http import call

app = typer.Typer(
    help="Farm devices: provisioning, status, commands, simulator.", no_args_is_help=True
)
console = Console()

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
DEFAULT_URL = "http://127.0.0.1:8080"


def _show_credentials(reply: dict[str, Any]) -> None:
    mqtt = reply["mqtt"]
    console.print(
        f"device [bold]{reply['device_id']}[/bold] ({reply['device_type']})\n"
        f"  broker     mqtt://{mqtt['host']}:{mqtt['port']}  (topic root {mqtt['root']})\n"
        f"  client id  {mqtt['client_id']}\n"
        f"  username   {mqtt['username']}\n"
        f"  password   [bold]{mqtt['password']}[/bold]\n"
        "The password is shown only now; `byre device rotate` issues a new one."
    )


@app.command("provision")
def provision(
    device_type: Annotated[str, typer.Option("--type", help="gate, fan, light, siren, ...")],
    device_id: Annotated[str, typer.Option("--id", help="Device id (letters, digits, _ -).")],
    name: Annotated[str, typer.Option(help="Name shown to farmers.")] = "",
    appliance: ApplianceUrl = DEFAULT_URL,
    token: ApplianceToken = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Create a device and print its MQTT credentials (once)."""
    reply = call(
        "POST",
        f"{appliance}/api/v1/devices",
        token=token,
        json={"device_id": device_id, "device_type": device_type, "name": name},
    )
    if as_json:
        console.print_json(json.dumps(reply))
    else:
        _show_credentials(reply)


@app.command("rotate")
def rotate(
    device_id: Annotated[str, typer.Argument(help="Device id.")],
    appliance: ApplianceUrl = DEFAULT_URL,
    token: ApplianceToken = "",
) -> None:
    """Give a device a new password (the old one stops working)."""
    _show_credentials(call("POST", f"{appliance}/api/v1/devices/{device_id}/secret", token=token))


@app.command("revoke")
def revoke(
    device_id: Annotated[str, typer.Argument(help="Device id.")],
    appliance: ApplianceUrl = DEFAULT_URL,
    token: ApplianceToken = "",
) -> None:
    """Stop a device from connecting and close its connection."""
    call("DELETE", f"{appliance}/api/v1/devices/{device_id}", token=token)
    console.print(f"device {device_id} revoked")


@app.command("list")
def list_devices(appliance: ApplianceUrl = DEFAULT_URL, token: ApplianceToken = "") -> None:
    """Devices with their availability and when they were last heard from."""
    reply = call("GET", f"{appliance}/api/v1/devices", token=token)
    table = Table("device", "type", "availability", "last seen", "state")
    for device in reply["items"]:
        status = device["status"] or {}
        table.add_row(
            device["device_id"] + ("" if device["active"] else " (revoked)"),
            device["device_type"],
            status.get("availability", "-"),
            status.get("last_seen_at") or "-",
            json.dumps(status.get("state")) if status.get("state") else "-",
        )
    console.print(table)


@app.command("command")
def command(
    device_id: Annotated[str, typer.Argument(help="Device id.")],
    action: Annotated[str, typer.Argument(help="e.g. open, set_speed, sound.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (JSON value).")
    ] = None,
    correlation_id: Annotated[
        str | None, typer.Option(help="Idempotency key: the same key never runs twice.")
    ] = None,
    appliance: ApplianceUrl = DEFAULT_URL,
    token: ApplianceToken = "",
) -> None:
    """Send a command to a device (a saga the appliance resends until answered)."""
    params: dict[str, Any] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    body: dict[str, Any] = {"action": action, "params": params, "requested_by": "cli"}
    if correlation_id:
        body["correlation_id"] = correlation_id
    reply = call("POST", f"{appliance}/api/v1/devices/{device_id}/commands", token=token, json=body)
    console.print(f"command {reply['correlation_id']}: {reply['state']}")


SIM_TYPES = (
    "climate",
    "water_trough",
    "gate",
    "fan",
    "light",
    "siren",
    "feeder_scale",
    "power_monitor",
)


def _credentials_for(appliance: str, token: str, device_id: str, device_type: str) -> Any:
    """Provision a simulated device, or give it a new secret if an earlier run made it."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"device_id": device_id, "device_type": device_type, "name": "simulated"}
    try:
        reply = httpx.post(f"{appliance}/api/v1/devices", json=body, headers=headers, timeout=30)
    except httpx.HTTPError as err:
        console.print(f"[red]cannot reach {appliance}: {err}[/red]")
        raise typer.Exit(2) from err
    if reply.status_code == 409:
        return call("POST", f"{appliance}/api/v1/devices/{device_id}/secret", token=token)
    if reply.status_code >= 400:
        console.print(f"[red]provisioning {device_id} failed: {reply.text[:300]}[/red]")
        raise typer.Exit(1)
    return reply.json()


@app.command("simulate")
def simulate(
    count: Annotated[int, typer.Option(min=1, max=2000, help="How many devices.")] = 8,
    types: Annotated[
        str, typer.Option(help="Comma-separated device types, used in turn.")
    ] = ",".join(SIM_TYPES),
    duration: Annotated[
        float | None, typer.Option(help="Stop after N seconds; default: until Ctrl-C.")
    ] = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 60.0,
    report_interval: Annotated[int, typer.Option(help="Seconds between telemetry.")] = 5,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Keep the devices' settings files here.")
    ] = None,
    appliance: ApplianceUrl = DEFAULT_URL,
    token: ApplianceToken = "",
) -> None:
    """Run the device firmware on simulated boards against the appliance's broker."""
    from firmware.sim.fleet import Fleet

    kinds = [t.strip() for t in types.split(",") if t.strip()]
    unknown = sorted(set(kinds) - set(SIM_TYPES))
    if not kinds or unknown:
        raise typer.BadParameter(
            f"unknown device types: {', '.join(unknown)}", param_hint="--types"
        )
    workdir = directory or Path(tempfile.mkdtemp(prefix="byre-sim-"))
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        device_type = kinds[n % len(kinds)]
        device_id = f"sim-{device_type.replace('_', '-')}-{n + 1}"
        mqtt = _credentials_for(appliance, token, device_id, device_type)["mqtt"]
        settings = {
            "device_id": device_id,
            "device_type": device_type,
            "host": mqtt["host"],
            "port": mqtt["port"],
            "root": mqtt["root"],
            "username": mqtt["username"],
            "password": mqtt["password"],
            "report_interval_s": report_interval,
        }
        path = workdir / f"{device_id}.json"
        path.write_text(json.dumps(settings))
        paths.append(str(path))
    fleet = Fleet.from_settings(paths, speed=speed)
    timer = threading.Timer(duration, fleet.stop) if duration is not None else None
    if timer is not None:
        timer.start()
    console.print(f"simulating {count} devices (settings in {workdir}); Ctrl-C stops")
    try:
        fleet.run()
    except KeyboardInterrupt:
        fleet.stop()
    finally:
        if timer is not None:
            timer.cancel()
        if directory is None:
            shutil.rmtree(workdir, ignore_errors=True)
    executed = sum(d.executed for d in fleet.devices)
    connects = sum(d.connects for d in fleet.devices)
    console.print(f"simulation over: {count} devices, {connects} connections, {executed} commands")
