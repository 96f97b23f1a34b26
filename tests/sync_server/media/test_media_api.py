"""Central's media API on SQLite and PostgreSQL, with the local store and S3 (moto_server)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from contracts import new_id
from sync_server.media.settings import MediaSettings, S3StoreSettings
from tests.conftest import MakeCentral, free_port
from tests.sync_server.media.conftest import local_media_settings
from tests.sync_server.test_sync_api import ADMIN, Enrolled, enrol

TICKET = "/api/v1/sync/media"


def media_record(data: bytes, incident_id: UUID, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    record: dict[str, Any] = {
        "media_id": str(new_id()),
        "incident_id": str(incident_id),
        "camera_id": "cam-1",
        "kind": "clip",
        "content_type": "video/mp4",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "started_at": now,
        "ended_at": now,
    }
    record.update(changes)
    return record


async def signed_post(
    client: httpx.AsyncClient, who: Enrolled, path: str, body: dict[str, Any] | None
) -> httpx.Response:
    raw = json.dumps(body).encode() if body is not None else b""
    return await client.post(path, content=raw, headers=who.headers("POST", path, raw))


async def ask_ticket(
    client: httpx.AsyncClient, who: Enrolled, record: dict[str, Any]
) -> httpx.Response:
    return await signed_post(client, who, TICKET, record)


async def complete(client: httpx.AsyncClient, who: Enrolled, media_id: str) -> httpx.Response:
    return await signed_post(client, who, f"{TICKET}/{media_id}/complete", None)


async def put(ticket: dict[str, Any], data: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as raw:
        return await raw.request(
            ticket["method"], ticket["upload_url"], content=data, headers=ticket["headers"]
        )


async def incident_media(
    client: httpx.AsyncClient, farm_id: str, incident_id: UUID
) -> list[dict[str, Any]]:
    reply = await client.get(
        f"/api/v1/farms/{farm_id}/incidents/{incident_id}/media", headers=ADMIN
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def upload(
    client: httpx.AsyncClient, who: Enrolled, record: dict[str, Any], data: bytes
) -> None:
    ticket = await ask_ticket(client, who, record)
    assert ticket.status_code == 200, ticket.text
    assert (await put(ticket.json(), data)).status_code == 200
    done = await complete(client, who, record["media_id"])
    assert done.status_code == 200, done.text


async def test_upload_confirm_and_download_through_presigned_urls(
    make_central: MakeCentral, database_url: str, media_settings: MediaSettings
) -> None:
    central = await make_central(database_url, media=media_settings)
    data = os.urandom(150_000)
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        record = media_record(data, incident)

        ticket = await ask_ticket(client, appliance, record)
        before = await incident_media(client, "farm-a", incident)
        stored = await put(ticket.json(), data)
        done = await complete(client, appliance, record["media_id"])
        after = await incident_media(client, "farm-a", incident)
        async with httpx.AsyncClient() as raw:
            downloaded = await raw.get(after[0]["download_url"])

    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["already_uploaded"] is False
    assert [(m["media_id"], m["uploaded_at"], m["download_url"]) for m in before] == [
        (record["media_id"], None, None)
    ]
    assert stored.status_code == 200, stored.text
    assert done.status_code == 200, done.text
    assert [(m["media_id"], m["size_bytes"]) for m in after] == [(record["media_id"], len(data))]
    assert after[0]["uploaded_at"] is not None
    assert (downloaded.status_code, downloaded.content) == (200, data)


async def test_same_media_again_is_already_uploaded_and_complete_is_idempotent(
    make_central: MakeCentral, database_url: str, media_settings: MediaSettings
) -> None:
    central = await make_central(database_url, media=media_settings)
    data = b"snapshot bytes" * 50
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        record = media_record(data, incident, kind="snapshot", content_type="image/jpeg")
        await upload(client, appliance, record, data)

        again = await ask_ticket(client, appliance, record)
        confirmed_again = await complete(client, appliance, record["media_id"])
        items = await incident_media(client, "farm-a", incident)

    assert again.status_code == 200, again.text
    assert again.json()["already_uploaded"] is True
    assert again.json()["upload_url"] is None
    assert confirmed_again.status_code == 200, confirmed_again.text
    assert [m["media_id"] for m in items] == [record["media_id"]]


async def test_stored_but_unconfirmed_media_is_not_sent_again(
    make_central: MakeCentral, database_url: str, media_settings: MediaSettings
) -> None:
    central = await make_central(database_url, media=media_settings)
    data = b"clip" * 2000
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        record = media_record(data, incident)
        await put((await ask_ticket(client, appliance, record)).json(), data)  # confirm lost

        again = await ask_ticket(client, appliance, record)
        items = await incident_media(client, "farm-a", incident)

    assert again.status_code == 200, again.text
    assert again.json()["already_uploaded"] is True
    assert items[0]["uploaded_at"] is not None


async def test_confirming_before_or_with_other_bytes_is_refused(
    make_central: MakeCentral, database_url: str, media_settings: MediaSettings
) -> None:
    central = await make_central(database_url, media=media_settings)
    data = b"clip" * 1000
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        record = media_record(data, incident)
        ticket = (await ask_ticket(client, appliance, record)).json()

        early = await complete(client, appliance, record["media_id"])
        await put(ticket, data[:-10])
        short = await complete(client, appliance, record["media_id"])
        items = await incident_media(client, "farm-a", incident)

    assert early.status_code == 409
    assert "not been uploaded" in early.json()["detail"]
    assert short.status_code == 409
    assert "does not match" in short.json()["detail"]
    assert [m["uploaded_at"] for m in items] == [None]


async def test_another_farm_cannot_confirm_claim_or_see_media(
    make_central: MakeCentral, database_url: str, media_settings: MediaSettings
) -> None:
    central = await make_central(database_url, media=media_settings)
    data = b"clip" * 1000
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        mine = await enrol(client, "farm-a")
        other = await enrol(client, "farm-b")
        record = media_record(data, incident)
        await upload(client, mine, record, data)

        confirm = await complete(client, other, record["media_id"])
        claim = await ask_ticket(client, other, record)
        path = f"/api/v1/farms/farm-a/incidents/{incident}/media"
        look = await client.get(path, headers=other.headers("GET", path, b""))
        other_farm_view = await incident_media(client, "farm-b", incident)

    assert confirm.status_code == 404
    assert claim.status_code == 409
    assert "another farm" in claim.json()["detail"]
    assert look.status_code == 401
    assert other_farm_view == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        pytest.param({"sha256": "not-a-hash"}, 422, id="bad-checksum"),
        pytest.param({"size_bytes": 0}, 422, id="empty"),
        pytest.param({"size_bytes": 10 * 1024**2}, 413, id="over-the-limit"),
        pytest.param({"content_type": "text/html"}, 422, id="not-media"),
    ],
)
async def test_bad_media_record_is_refused_and_nothing_is_registered(
    make_central: MakeCentral,
    database_url: str,
    tmp_path: Path,
    change: dict[str, Any],
    status: int,
) -> None:
    central = await make_central(database_url, media=local_media_settings(tmp_path / "objects"))
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")

        reply = await ask_ticket(client, appliance, media_record(b"x", incident, **change))
        items = await incident_media(client, "farm-a", incident)

    assert reply.status_code == status, reply.text
    assert items == []


async def test_same_media_id_with_other_content_is_a_conflict(
    make_central: MakeCentral, database_url: str, tmp_path: Path
) -> None:
    central = await make_central(database_url, media=local_media_settings(tmp_path / "objects"))
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        record = media_record(b"first", new_id())
        first = await ask_ticket(client, appliance, record)

        second = await ask_ticket(
            client, appliance, {**record, "sha256": hashlib.sha256(b"second").hexdigest()}
        )

    assert first.status_code == 200, first.text
    assert second.status_code == 409
    assert "other content" in second.json()["detail"]


async def test_incident_media_needs_the_admin(make_central: MakeCentral, tmp_path: Any) -> None:
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with httpx.AsyncClient(base_url=central.url) as client:
        reply = await client.get(f"/api/v1/farms/farm-a/incidents/{new_id()}/media")

    assert reply.status_code == 401


async def test_unreachable_store_gives_503_and_registers_nothing_uploaded(
    make_central: MakeCentral, tmp_path: Path
) -> None:
    dead = S3StoreSettings(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="k",  # type: ignore[arg-type]
        secret_access_key="s",  # type: ignore[arg-type]
        addressing_style="path",
    )
    central = await make_central(
        f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=MediaSettings(backend="s3", s3=dead)
    )
    incident = new_id()
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        record = media_record(b"clip", incident)

        ticket = await ask_ticket(client, appliance, record)
        confirm = await complete(client, appliance, record["media_id"])
        items = await incident_media(client, "farm-a", incident)

    assert (ticket.status_code, confirm.status_code) == (503, 503)
    assert "S3" in ticket.json()["detail"]
    assert [m["uploaded_at"] for m in items] == [None]
