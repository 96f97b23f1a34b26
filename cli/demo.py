"""`byre demo`: central + appliance + scripted events + simulated sensors, on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.panel import Panel

console = Console()
FARM_ID = "demo-farm"


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def demo(
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after N seconds and report; default: run until Ctrl-C."),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the demo's databases and logs here.")
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between scripted events.")] = 1.0,
    camera: Annotated[
        bool, typer.Option(help="Run a sample camera (a composed scene) through the detector.")
    ] = True,
) -> None:
    """Start central and an appliance, enrol it, and watch events flow end to end."""
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="byre-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    vision = _sample_camera(workdir) if camera else None
    admin_token = secrets.token_urlsafe(24)
    api_token = secrets.token_urlsafe(24)
    ports = _free_ports(3)
    try:
        with _services(workdir, admin_token, api_token, ports, interval, vision) as (
            central,
            appliance,
        ):
            code = _post(f"{central.url}/api/v1/enrolment-codes", admin_token, {"farm_id": FARM_ID})
            _post(
                f"{appliance.url}/api/v1/enrolment",
                api_token,
                {"server_url": central.url, "code": code["code"]},
            )
            _show(central, appliance, admin_token, api_token, ports[2], workdir)
            synced = _watch(central, appliance, admin_token, api_token, duration)
    except DemoError as err:
        console.print(f"[red]demo failed: {err}[/red]")
        raise typer.Exit(1) from err
    finally:
        if data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print(f"Demo finished: {synced} events synced to central.")
    if synced == 0:
        raise typer.Exit(1)


class DemoError(Exception):
    pass


MODEL_CACHE = Path.home() / ".cache" / "byre" / "model-cache"


def _sample_camera(workdir: Path) -> dict[str, Any]:
    """Compose the escape scene (cows in a pen, one walks out) as the demo's camera."""
    from appliance.scenes.compose import Settings, compose

    with console.status("composing the sample camera's video..."):
        result = compose(Settings(scene="escape", seconds=30), workdir / "camera")
    truth = result.truth
    zones = [
        {
            "name": z.name,
            "kind": z.kind,
            "points": [(x / truth.width, y / truth.height) for x, y in z.polygon],
        }
        for z in truth.zones
    ]
    return {
        "runner": {
            "plugins": [
                {"name": "coco", "config": {"type": "model", "cache_dir": str(MODEL_CACHE)}}
            ]
        },
        "cameras": [
            {
                "source": {"id": "pasture-north", "url": str(result.video)},
                "zones": {"zones": zones},
            }
        ],
    }


@contextlib.contextmanager
def _services(
    workdir: Path,
    admin_token: str,
    api_token: str,
    ports: list[int],
    interval: float,
    vision: dict[str, Any] | None,
) -> Iterator[tuple[Service, Service]]:
    central_port, http_port, mqtt_port = ports
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("BYRE_")}
    central_env = base_env | {
        "BYRE_CENTRAL_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'central.db'}",
        "BYRE_CENTRAL_MEDIA__LOCAL__DIRECTORY": str(workdir / "central-media"),
        "BYRE_CENTRAL_PORT": str(central_port),
        "BYRE_CENTRAL_ADMIN_TOKEN": admin_token,
        "BYRE_CENTRAL_LOG_LEVEL": "WARNING",
    }
    appliance_env = base_env | {
        "BYRE_APPLIANCE_DATA_DIR": str(workdir / "appliance"),
        "BYRE_APPLIANCE_API_TOKEN": api_token,
        "BYRE_APPLIANCE_HTTP__HOST": "127.0.0.1",
        "BYRE_APPLIANCE_HTTP__PORT": str(http_port),
        "BYRE_APPLIANCE_MQTT__HOST": "127.0.0.1",
        "BYRE_APPLIANCE_MQTT__PORT": str(mqtt_port),
        "BYRE_APPLIANCE_SYNC__IDLE_INTERVAL_S": "1",
        "BYRE_APPLIANCE_DEMO_SOURCE__ENABLED": "true",
        "BYRE_APPLIANCE_DEMO_SOURCE__INTERVAL_S": str(interval),
        "BYRE_APPLIANCE_LOG_LEVEL": "WARNING",
    }
    if vision is not None:
        appliance_env["BYRE_APPLIANCE_VISION"] = json.dumps(vision)
    services: list[Service] = []
    try:
        with console.status("starting central and appliance..."):
            services.append(_start("central", "sync_server", central_env, central_port, workdir))
            services.append(_start("appliance", "appliance", appliance_env, http_port, workdir))
            for service in services:
                _wait_healthy(service)
        yield services[0], services[1]
    finally:
        for service in reversed(services):
            _stop(service)


def _start(name: str, module: str, env: dict[str, str], port: int, workdir: Path) -> Service:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Service(name, f"http://127.0.0.1:{port}", process, log)


def _wait_healthy(service: Service, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            tail = service.log.read_text(errors="replace")[-2000:]
            raise DemoError(f"{service.name} exited with {service.process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise DemoError(f"{service.name} did not become healthy within {timeout_s:.0f} s")


def _stop(service: Service) -> None:
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


def _post(url: str, token: str, body: dict[str, Any]) -> Any:
    resp = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if resp.status_code >= 400:
        raise DemoError(f"POST {url} failed ({resp.status_code}): {resp.text[:300]}")
    return resp.json()


def _central_count(central: Service, admin_token: str) -> int:
    """Events central holds for the demo farm (pages through the API)."""
    total, cursor = 0, 0
    headers = {"Authorization": f"Bearer {admin_token}"}
    for _ in range(10_000):
        resp = httpx.get(
            f"{central.url}/api/v1/events",
            params={"farm_id": FARM_ID, "after": cursor, "limit": 500},
            headers=headers,
            timeout=30,
        )
        resp.raise_for_status()
        page = resp.json()
        total += len(page["items"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    return total


def _outbox(appliance: Service, api_token: str) -> dict[str, int]:
    resp = httpx.get(
        f"{appliance.url}/api/v1/status",
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=10,
    )
    resp.raise_for_status()
    outbox: dict[str, int] = resp.json()["outbox"]
    return outbox


def _watch(
    central: Service,
    appliance: Service,
    admin_token: str,
    api_token: str,
    duration: float | None,
) -> int:
    start = time.monotonic()
    with console.status("") as status, contextlib.suppress(KeyboardInterrupt):
        while duration is None or time.monotonic() - start < duration:
            for service in (central, appliance):
                if service.process.poll() is not None:
                    raise DemoError(f"{service.name} stopped unexpectedly; see {service.log}")
            outbox = _outbox(appliance, api_token)
            status.update(
                f"{time.monotonic() - start:5.0f} s  recorded {outbox['recorded']}  "
                f"synced {outbox['sent']}  pending {outbox['pending']}  (Ctrl-C stops)"
            )
            time.sleep(1.0)
    # Let the last batch land before counting.
    for _ in range(20):
        if _outbox(appliance, api_token)["pending"] == 0:
            break
        time.sleep(0.5)
    return _central_count(central, admin_token)


def _show(
    central: Service,
    appliance: Service,
    admin_token: str,
    api_token: str,
    mqtt_port: int,
    workdir: Path,
) -> None:
    console.print(
        Panel.fit(
            f"central API      {central.url}/docs   (admin token: {admin_token})\n"
            f"  events         {central.url}/api/v1/events?farm_id={FARM_ID}\n"
            f"appliance API    {appliance.url}/api/v1/status   (technician token: {api_token})\n"
            f"device broker    mqtt://127.0.0.1:{mqtt_port}   (topics byre/dev/+/telemetry)\n"
            f"logs and data    {workdir}",
            title=f"Byre demo: farm {FARM_ID} enrolled",
        )
    )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
