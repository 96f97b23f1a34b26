"""Media upload end to end: a real appliance uploads clips to a real central's object store."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from starlette.responses import PlainTextResponse
from typer.testing import CliRunner

from appliance import keys
from appliance.settings import SyncSettings
from cli.main import app as cli_app
from contracts import EventType, FarmEvent, FarmEventKind, Severity, new_id
from sync_server.media.settings import MediaSettings
from tests.conftest import (
    ADMIN_TOKEN,
    API_TOKEN,
    MakeAppliance,
    MakeCentral,
    RunningAppliance,
    eventually,
    free_port,
)
from tests.sync_server.media.conftest import (
    MotoServer,
    local_media_settings,
    run_moto_server,
    s3_media_settings,
)

FARM = "farm-e2e"
CLIP = 64 * 1024
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def enrol(appliance: RunningAppliance, central_url: str) -> None:
    """Enrol the way `byre enroll` does: a one-time code, then the appliance's own key."""
    async with httpx.AsyncClient() as client:
        code = await client.post(
            f"{central_url}/api/v1/enrolment-codes", json={"farm_id": FARM}, headers=ADMIN
        )
    assert code.status_code == 201, code.text
    identity = await appliance.app[keys.CENTRAL].enrol(central_url, code.json()["code"], "box")
    await appliance.app[keys.IDENTITIES].save(identity)


async def record(appliance: RunningAppliance, n: int) -> list[str]:
    """Farm events recorded on the appliance (each with its outbox row)."""
    events = appliance.app[keys.EVENTS]
    recorded = [
        await events.record(
            EventType.FARM_EVENT,
            FarmEvent(kind=FarmEventKind.INTRUDER, severity=Severity.CRITICAL, summary=f"#{i}"),
            correlation_id=f"cam-1:intruder:{i}",
        )
        for i in range(n)
    ]
    return [str(e.id) for e in recorded]


def sync_settings(**changes: Any) -> SyncSettings:
    values: dict[str, Any] = {
        "idle_interval_s": 0.2,
        "retry_min_s": 0.1,
        "retry_max_s": 0.5,
        "media_retry_max_s": 0.5,
    }
    values.update(changes)
    return SyncSettings(**values)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with run_moto_server() as server:
        yield server


async def add_media(
    appliance: RunningAppliance, incident_id: UUID, data: bytes, age_s: float = 0
) -> UUID:
    """A finished clip as the recorder leaves it: a real file and a `ready` row."""
    media_id = new_id()
    path = appliance.settings.data_dir / "test-media" / f"{media_id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    at = datetime.now(UTC) - timedelta(seconds=age_s)
    async with appliance.app[keys.DATABASE].transaction() as conn:
        await conn.execute(
            "INSERT INTO media (media_id, incident_id, camera_id, kind, content_type, path,"
            " state, size_bytes, sha256, started_at, ended_at, created_at)"
            " VALUES (?, ?, 'cam-1', 'clip', 'video/mp4', ?, 'ready', ?, ?, ?, ?, ?)",
            (
                str(media_id),
                str(incident_id),
                str(path),
                len(data),
                hashlib.sha256(data).hexdigest(),
                at.isoformat(),
                at.isoformat(),
                at.isoformat(),
            ),
        )
    return media_id


async def upload_rows(appliance: RunningAppliance) -> dict[UUID, dict[str, Any]]:
    rows = await appliance.app[keys.DATABASE].fetch_all(
        "SELECT media_id, uploaded_at, upload_attempts, upload_error FROM media"
    )
    return {UUID(r["media_id"]): dict(r) for r in rows}


async def central_media(central_url: str, incident_id: UUID) -> dict[UUID, dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(
            f"{central_url}/api/v1/farms/{FARM}/incidents/{incident_id}/media", headers=ADMIN
        )
    assert reply.status_code == 200, reply.text
    return {UUID(m["media_id"]): m for m in reply.json()["items"]}


async def wait_uploaded(appliance: RunningAppliance, media_ids: list[UUID]) -> None:
    async def uploaded() -> bool:
        rows = await upload_rows(appliance)
        return all(rows[m]["uploaded_at"] is not None for m in media_ids)

    await eventually(uploaded, 30)


async def download(url: str) -> bytes:
    async with httpx.AsyncClient() as client:
        reply = await client.get(url)
    assert reply.status_code == 200, reply.text
    return reply.content


@pytest.mark.parametrize("store", ["local", "s3"])
async def test_clips_reach_the_object_store_and_hq_can_download_them(
    make_central: MakeCentral,
    make_appliance: MakeAppliance,
    tmp_path: Path,
    moto: MotoServer,
    store: str,
) -> None:
    media: MediaSettings = (
        local_media_settings(tmp_path / "objects") if store == "local" else s3_media_settings(moto)
    )
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    appliance = await make_appliance(sync=sync_settings())
    await enrol(appliance, central.url)
    incident = new_id()
    clips = [os.urandom(CLIP + n) for n in range(3)]

    ids = [await add_media(appliance, incident, data, age_s=10 - n) for n, data in enumerate(clips)]
    await wait_uploaded(appliance, ids)
    at_central = await central_media(central.url, incident)

    assert list(at_central) == ids
    assert [await download(at_central[m]["download_url"]) for m in ids] == clips
    assert appliance.app[keys.MEDIA_UPLOADER].status.bytes_uploaded == sum(map(len, clips))


async def test_upload_is_retried_after_central_was_down(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    db, port, media = (
        f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        free_port(),
        local_media_settings(tmp_path / "objects"),
    )
    central = await make_central(db, port, media=media)
    appliance = await make_appliance(sync=sync_settings())
    await enrol(appliance, central.url)
    await central.stop()
    incident = new_id()
    data = os.urandom(CLIP)

    media_id = await add_media(appliance, incident, data)

    async def failed_once() -> bool:
        row = (await upload_rows(appliance))[media_id]
        return row["upload_attempts"] >= 1 and "cannot reach central" in row["upload_error"]

    await eventually(failed_once)
    central = await make_central(db, port, media=media)
    await wait_uploaded(appliance, [media_id])
    at_central = await central_media(central.url, incident)

    assert await download(at_central[media_id]["download_url"]) == data
    assert (await upload_rows(appliance))[media_id]["upload_error"] is None


async def test_upload_again_after_the_appliance_forgot_sends_nothing_twice(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    media = local_media_settings(tmp_path / "objects")
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    appliance = await make_appliance(sync=sync_settings())
    await enrol(appliance, central.url)
    incident = new_id()
    media_id = await add_media(appliance, incident, os.urandom(CLIP))
    await wait_uploaded(appliance, [media_id])
    uploader = appliance.app[keys.MEDIA_UPLOADER]
    sent_before = uploader.status.bytes_uploaded

    async with appliance.app[keys.DATABASE].transaction() as conn:  # e.g. a restored backup
        await conn.execute("UPDATE media SET uploaded_at = NULL")
    await wait_uploaded(appliance, [media_id])

    assert uploader.status.bytes_uploaded == sent_before == CLIP
    assert list(await central_media(central.url, incident)) == [media_id]


async def test_daily_budget_holds_media_back_but_not_events(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    media = local_media_settings(tmp_path / "objects")
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    appliance = await make_appliance(sync=sync_settings(media_daily_budget_bytes=CLIP + CLIP // 2))
    await enrol(appliance, central.url)
    incident = new_id()
    ids = [await add_media(appliance, incident, os.urandom(CLIP), age_s=10 - n) for n in range(3)]
    uploader = appliance.app[keys.MEDIA_UPLOADER]

    async def held_by_budget() -> bool:
        return uploader.status.uploaded == 1 and uploader.status.waiting_for == "budget"

    await eventually(held_by_budget, 30)
    event_ids = await record(appliance, 2)

    async def events_arrived() -> bool:
        async with httpx.AsyncClient() as client:
            reply = await client.get(
                f"{central.url}/api/v1/events",
                params={"farm_id": FARM, "type": "incident.event"},
                headers=ADMIN,
            )
        return sorted(e["id"] for e in reply.json()["items"]) == sorted(event_ids)

    await eventually(events_arrived, 20)

    async def drained_and_held_again() -> bool:
        pending = await appliance.app[keys.EVENTS].pending(1)
        return not pending and uploader.status.waiting_for == "budget"

    await eventually(drained_and_held_again, 20)
    rows = await upload_rows(appliance)

    assert [rows[m]["uploaded_at"] is not None for m in ids] == [True, False, False]
    assert list(await central_media(central.url, incident)) == ids[:1]


async def test_media_waits_while_events_are_pending(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    central = await make_central(
        f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=local_media_settings(tmp_path / "o")
    )
    appliance = await make_appliance(sync=sync_settings())
    await enrol(appliance, central.url)
    await central.stop()
    await record(appliance, 3)
    media_id = await add_media(appliance, new_id(), os.urandom(CLIP))
    uploader = appliance.app[keys.MEDIA_UPLOADER]

    async def waiting_for_events() -> bool:
        return uploader.status.waiting_for == "events"

    await eventually(waiting_for_events)

    assert (await upload_rows(appliance))[media_id]["upload_attempts"] == 0


async def test_a_file_that_keeps_failing_does_not_block_the_others(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    media = local_media_settings(tmp_path / "objects")
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    appliance = await make_appliance(sync=sync_settings())
    await enrol(appliance, central.url)
    incident = new_id()
    broken = await add_media(appliance, incident, os.urandom(CLIP), age_s=10)
    async with appliance.app[keys.DATABASE].transaction() as conn:  # the file no longer fits
        await conn.execute(
            "UPDATE media SET size_bytes = size_bytes + 1 WHERE media_id = ?", (str(broken),)
        )
    good = await add_media(appliance, incident, os.urandom(CLIP), age_s=5)

    await wait_uploaded(appliance, [good])

    async def broken_retried() -> bool:
        attempts: int = (await upload_rows(appliance))[broken]["upload_attempts"]
        return attempts >= 2

    await eventually(broken_retried)
    row = (await upload_rows(appliance))[broken]
    assert row["uploaded_at"] is None
    assert "missing or changed" in row["upload_error"]


class CentralSpy:
    """Records the paths the appliance's central client posts to (the calls go through)."""

    def __init__(self, appliance: RunningAppliance, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        client = appliance.app[keys.CENTRAL]
        post = client.post

        async def spy(url: str, *args: Any, **kwargs: Any) -> Any:
            self.paths.append(url.split("/api/v1", 1)[1])
            return await post(url, *args, **kwargs)

        monkeypatch.setattr(client, "post", spy)

    def media(self) -> list[str]:
        return [p for p in self.paths if p.startswith("/sync/media")]


async def test_a_round_of_files_takes_one_ticket_and_one_confirmation_request(
    make_central: MakeCentral,
    make_appliance: MakeAppliance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    media = local_media_settings(tmp_path / "objects")
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    appliance = await make_appliance(sync=sync_settings(media_parallel_uploads=3))
    spy = CentralSpy(appliance, monkeypatch)
    incident = new_id()
    clips = [os.urandom(CLIP + n) for n in range(7)]
    ids = [await add_media(appliance, incident, d, age_s=10 - n) for n, d in enumerate(clips)]

    await enrol(appliance, central.url)  # the uploader waits for enrolment: one round
    await wait_uploaded(appliance, ids)

    assert spy.media() == ["/sync/media/tickets", "/sync/media/completions"]
    at_central = await central_media(central.url, incident)
    assert [await download(at_central[m]["download_url"]) for m in ids] == clips


async def test_a_central_without_batch_endpoints_gets_files_one_by_one(
    make_central: MakeCentral,
    make_appliance: MakeAppliance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    media = local_media_settings(tmp_path / "objects")
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    newer = central.server.config.loaded_app

    async def older_central(scope: Any, receive: Any, send: Any) -> None:
        """Central as it was before the batch media endpoints (404 for them)."""
        if scope["type"] == "http" and scope["path"].endswith(("/tickets", "/completions")):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await newer(scope, receive, send)

    central.server.config.loaded_app = older_central  # read by each new connection
    appliance = await make_appliance(sync=sync_settings())
    spy = CentralSpy(appliance, monkeypatch)
    incident = new_id()
    clips = [os.urandom(CLIP + n) for n in range(2)]
    ids = [await add_media(appliance, incident, d, age_s=10 - n) for n, d in enumerate(clips)]

    await enrol(appliance, central.url)
    await wait_uploaded(appliance, ids)

    assert spy.media()[0] == "/sync/media/tickets"
    assert sorted(spy.media()[1:]) == sorted(
        ["/sync/media"] * 2 + [f"/sync/media/{m}/complete" for m in ids]
    )
    at_central = await central_media(central.url, incident)
    assert [await download(at_central[m]["download_url"]) for m in ids] == clips


async def test_status_api_and_cli_show_the_uploader(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    media = local_media_settings(tmp_path / "objects")
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    budget = 10 * CLIP
    appliance = await make_appliance(sync=sync_settings(media_daily_budget_bytes=budget))
    await enrol(appliance, central.url)
    ids = [await add_media(appliance, new_id(), os.urandom(CLIP)) for _ in range(2)]
    await wait_uploaded(appliance, ids)
    broken = await add_media(appliance, new_id(), os.urandom(CLIP))
    async with appliance.app[keys.DATABASE].transaction() as conn:  # the file no longer fits
        await conn.execute(
            "UPDATE media SET size_bytes = size_bytes + 1 WHERE media_id = ?", (str(broken),)
        )

    async def broken_failed() -> bool:
        return bool((await upload_rows(appliance))[broken]["upload_attempts"])

    await eventually(broken_failed)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    async with httpx.AsyncClient(base_url=appliance.url, headers=auth) as client:
        status = (await client.get("/api/v1/status")).json()["media"]
        system = (await client.get("/api/v1/system")).json()["sync"]["media"]
    cli = await asyncio.to_thread(
        CliRunner().invoke,
        cli_app,
        ["appliance", "status", "--appliance", appliance.url, "--token", API_TOKEN],
    )

    counts = {"pending": 1, "failed": 1, "uploaded": 2, "bytes_today": 2 * CLIP}
    assert {k: status[k] for k in counts} == counts
    assert status["daily_budget_bytes"] == budget
    assert {k: system[k] for k in counts} == counts
    assert cli.exit_code == 0, cli.output
    shown = json.loads(cli.output)["media"]
    assert {k: shown[k] for k in counts} == counts


async def test_a_file_central_refuses_in_a_round_waits_and_the_others_go(
    make_central: MakeCentral, make_appliance: MakeAppliance, tmp_path: Path
) -> None:
    media = local_media_settings(tmp_path / "objects").model_copy(
        update={"max_object_bytes": 2 * CLIP}
    )
    central = await make_central(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=media)
    appliance = await make_appliance(sync=sync_settings())
    incident = new_id()
    small = await add_media(appliance, incident, os.urandom(CLIP), age_s=10)
    too_big = await add_media(appliance, incident, os.urandom(3 * CLIP), age_s=9)
    after = await add_media(appliance, incident, os.urandom(CLIP), age_s=8)

    await enrol(appliance, central.url)
    await wait_uploaded(appliance, [small, after])

    async def refused_twice() -> bool:
        attempts: int = (await upload_rows(appliance))[too_big]["upload_attempts"]
        return attempts >= 2

    await eventually(refused_twice)
    row = (await upload_rows(appliance))[too_big]
    assert row["uploaded_at"] is None
    assert "413" in row["upload_error"]
    assert list(await central_media(central.url, incident)) == [small, after]
