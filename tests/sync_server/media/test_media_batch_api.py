"""Batch forms of the media upload API: tickets and completions for many files at once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx

from contracts import new_id
from sync_server.media.settings import MediaSettings
from tests.conftest import MakeCentral
from tests.sync_server.media.conftest import MAX_OBJECT_BYTES, local_media_settings
from tests.sync_server.media.test_media_api import (
    ask_ticket,
    incident_media,
    media_record,
    put,
    signed_post,
)
from tests.sync_server.test_sync_api import enrol

TICKETS = "/api/v1/sync/media/tickets"
COMPLETIONS = "/api/v1/sync/media/completions"


def results(reply: httpx.Response) -> list[dict[str, Any]]:
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["results"]
    return found


async def test_many_files_get_tickets_upload_and_complete_in_two_requests(
    make_central: MakeCentral, database_url: str, media_settings: MediaSettings
) -> None:
    central = await make_central(database_url, media=media_settings)
    incident = new_id()
    files = [os.urandom(20_000 + n) for n in range(5)]
    records = [media_record(data, incident) for data in files]
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        tickets = results(await signed_post(client, appliance, TICKETS, {"items": records}))
        stored = [await put(t["ticket"], data) for t, data in zip(tickets, files, strict=True)]
        ids = [r["media_id"] for r in records]
        done = results(await signed_post(client, appliance, COMPLETIONS, {"media_ids": ids}))
        again = results(await signed_post(client, appliance, TICKETS, {"items": records}))
        items = await incident_media(client, "farm-a", incident)

    assert [t["media_id"] for t in tickets] == ids  # request order
    assert all(t["error"] is None and t["ticket"]["method"] == "PUT" for t in tickets)
    assert [s.status_code for s in stored] == [200] * 5
    assert [d["media_id"] for d in done] == ids
    assert all(d["error"] is None and d["uploaded"]["uploaded_at"] for d in done)
    assert [t["ticket"]["already_uploaded"] for t in again] == [True] * 5
    assert {m["media_id"]: m["size_bytes"] for m in items} == {
        r["media_id"]: r["size_bytes"] for r in records
    }
    assert all(m["download_url"] for m in items)


async def test_a_bad_file_in_a_batch_fails_alone_with_the_single_file_status(
    make_central: MakeCentral, database_url: str, tmp_path: Path
) -> None:
    central = await make_central(database_url, media=local_media_settings(tmp_path / "objects"))
    incident = new_id()
    good = media_record(b"good bytes", incident)
    known = media_record(b"first", incident)
    too_big = media_record(b"x", incident, size_bytes=MAX_OBJECT_BYTES + 1)
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        assert (await ask_ticket(client, appliance, known)).status_code == 200
        other = {**known, "sha256": hashlib.sha256(b"second").hexdigest()}
        tickets = results(
            await signed_post(client, appliance, TICKETS, {"items": [good, other, too_big]})
        )
        missing = str(new_id())
        done = results(
            await signed_post(
                client, appliance, COMPLETIONS, {"media_ids": [good["media_id"], missing]}
            )
        )
        items = await incident_media(client, "farm-a", incident)

    assert tickets[0]["error"] is None
    assert tickets[0]["ticket"]["upload_url"]
    assert tickets[1]["ticket"] is None
    assert tickets[1]["error"]["status"] == 409
    assert "other content" in tickets[1]["error"]["detail"]
    assert (tickets[2]["ticket"], tickets[2]["error"]["status"]) == (None, 413)
    assert (done[0]["uploaded"], done[0]["error"]["status"]) == (None, 409)  # not uploaded yet
    assert (done[1]["media_id"], done[1]["error"]["status"]) == (missing, 404)
    assert {m["media_id"] for m in items} == {good["media_id"], known["media_id"]}
    assert all(m["uploaded_at"] is None for m in items)


async def test_another_farm_cannot_complete_media_in_a_batch(
    make_central: MakeCentral, database_url: str, tmp_path: Path
) -> None:
    central = await make_central(database_url, media=local_media_settings(tmp_path / "objects"))
    data = b"clip bytes"
    record = media_record(data, new_id())
    async with httpx.AsyncClient(base_url=central.url) as client:
        owner = await enrol(client, "farm-a")
        stranger = await enrol(client, "farm-b")
        ticket = results(await signed_post(client, owner, TICKETS, {"items": [record]}))[0]
        assert (await put(ticket["ticket"], data)).status_code == 200
        claimed = results(await signed_post(client, stranger, TICKETS, {"items": [record]}))
        theirs = results(
            await signed_post(client, stranger, COMPLETIONS, {"media_ids": [record["media_id"]]})
        )

    assert claimed[0]["error"]["status"] == 409
    assert theirs[0]["error"]["status"] == 404


async def test_empty_or_oversized_batches_are_refused(
    make_central: MakeCentral, tmp_path: Path
) -> None:
    central = await make_central(
        f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", media=local_media_settings(tmp_path / "o")
    )
    async with httpx.AsyncClient(base_url=central.url) as client:
        appliance = await enrol(client, "farm-a")
        empty = await signed_post(client, appliance, TICKETS, {"items": []})
        many = [media_record(b"x", new_id()) for _ in range(101)]
        too_many = await signed_post(client, appliance, TICKETS, {"items": many})
        no_ids = await signed_post(client, appliance, COMPLETIONS, {"media_ids": []})

    assert (empty.status_code, too_many.status_code, no_ids.status_code) == (422, 422, 422)
