"""What a farmer may do, the technician API token for the CLI, and cookies over HTTPS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from cli.main import app as cli
from tests.appliance.auth.conftest import AUTH, PASSWORD, MakeBrowser, add_user
from tests.conftest import API_TOKEN, RunningAppliance, eventually, free_port

EVENT = {"kind": "predator", "severity": "critical", "summary": "dog near the sheep"}


async def test_a_farmer_acknowledges_and_resolves_incidents_as_themselves(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    await add_user(appliance, "fred", "farmer")
    fred = await make_browser(appliance)
    await fred.sign_in("fred")
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.post(
            f"{appliance.url}/api/v1/events", json={"correlation_id": "cam:dog", "event": EVENT}
        ) as recorded,
    ):
        assert recorded.status == 201
    found: list[dict[str, str]] = []

    async def opened() -> bool:
        found[:] = (await fred.call("GET", "/api/v1/incidents"))[1]["items"]
        return len(found) == 1

    await eventually(opened)
    path = f"/api/v1/incidents/{found[0]['incident_id']}"

    acked = await fred.call("POST", f"{path}/acknowledge", {})
    resolved = await fred.call("POST", f"{path}/resolve", {"note": "chased off"})

    assert (acked[0], acked[1]["acknowledged_by"]) == (200, "fred")
    assert (resolved[0], resolved[1]["state"], resolved[1]["note"]) == (
        200,
        "resolved",
        "chased off",
    )


async def test_a_farmer_reads_devices_and_sends_commands_but_cannot_provision(
    appliance: RunningAppliance, make_browser: MakeBrowser
) -> None:
    await add_user(appliance, "fred", "farmer")
    fred = await make_browser(appliance)
    await fred.sign_in("fred")

    provisioned = await fred.call(
        "POST", "/api/v1/devices", {"device_id": "gate-1", "device_type": "gate"}
    )
    async with (
        aiohttp.ClientSession(headers=AUTH) as http,
        http.post(
            f"{appliance.url}/api/v1/devices", json={"device_id": "gate-1", "device_type": "gate"}
        ) as by_technician,
    ):
        assert by_technician.status == 201
    listed = await fred.call("GET", "/api/v1/devices")
    command = await fred.call("POST", "/api/v1/devices/gate-1/commands", {"action": "open"})

    assert provisioned[0] == 403
    assert [d["device_id"] for d in listed[1]["items"]] == ["gate-1"]
    assert (command[0], command[1]["requested_by"]) == (202, "fred")


async def test_the_api_token_is_a_technician_without_csrf(appliance: RunningAppliance) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        async with http.get(f"{appliance.url}/api/v1/auth/me") as me:
            who = await me.json()
        body = {"username": "fred", "password": PASSWORD, "role": "farmer"}
        async with http.post(f"{appliance.url}/api/v1/users", json=body) as created:
            status = created.status

    assert who == {
        "username": "api-token",
        "role": "technician",
        "csrf_token": None,
        "language": None,
    }
    assert status == 201


async def test_the_cli_reads_the_api_with_its_token(appliance: RunningAppliance) -> None:
    runner = CliRunner()
    args = ["appliance", "status", "--appliance", appliance.url]

    with_token = await asyncio.to_thread(runner.invoke, cli, [*args, "--token", API_TOKEN])
    without = await asyncio.to_thread(runner.invoke, cli, args)

    assert with_token.exit_code == 0, with_token.output
    assert '"enrolled": false' in with_token.output
    assert without.exit_code == 1
    assert "sign in required" in without.output


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_the_session_cookie_is_secure_over_https(
    appliance: RunningAppliance, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    port = free_port()
    await web.TCPSite(appliance.runner, "127.0.0.1", port, ssl_context=server_tls).start()

    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"https://127.0.0.1:{port}/api/v1/auth/setup",
            json={"username": "tess", "password": PASSWORD},
            ssl=client_tls,
        ) as reply,
    ):
        cookie = SimpleCookie(reply.headers["Set-Cookie"])["byre_session"]

    assert reply.status == 201
    assert cookie["secure"] is True
    assert (cookie["httponly"], cookie["samesite"]) == (True, "Strict")
