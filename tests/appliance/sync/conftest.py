"""Fixtures of the sync tests: a real appliance store, and a peer speaking central's sync API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from appliance.settings import SyncSettings
from appliance.store import Database, EventStore
from appliance.store.kv import KeyValue
from appliance.sync.agent import SyncAgent
from appliance.sync.client import CentralClient
from appliance.sync.identity import Identity, IdentityStore, new_private_key, private_key_text
from tests.conftest import free_port


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[Database, EventStore]]:
    db = Database(tmp_path / "appliance.db")
    await db.open()
    yield db, EventStore(db)
    await db.close()


@dataclass
class SmallCentral:
    """Answers the sync API like central, but with a tiny body limit (central's is 32 MiB):
    a batch of more than `max_events` events, or with an event summarised "huge", gets 413."""

    max_events: int
    url: str = ""
    batch_sizes: list[int] = field(default_factory=list)
    batch_seqs: list[list[int]] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    delay_s: float = 0.0  # each request takes this long
    fail: set[int] = field(default_factory=set)  # requests (1 = first) answered 503
    in_flight: int = 0
    most_in_flight: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        assert request.headers["Content-Encoding"] == "gzip"
        assert request.headers["X-Byre-Signature"]
        batch: dict[str, Any] = json.loads(await request.read())  # aiohttp inflates gzip
        events = batch["events"]
        self.batch_sizes.append(len(events))
        self.batch_seqs.append([e["seq"] for e in events])
        number = len(self.batch_sizes)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if number in self.fail:
            return web.json_response({"detail": "try again"}, status=503)
        huge = any(e["payload"].get("summary") == "huge" for e in events)
        if huge or len(events) > self.max_events:
            return web.json_response({"detail": "body too large"}, status=413)
        ids = [e["id"] for e in events]
        self.stored += ids
        return web.json_response(
            {"batch_id": batch["batch_id"], "accepted": ids, "duplicates": [], "rejected": []}
        )


@pytest.fixture
async def small_central() -> AsyncIterator[SmallCentral]:
    central = SmallCentral(max_events=5)
    app = web.Application()
    app.router.add_post("/api/v1/sync/events", central.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    central.url = f"http://127.0.0.1:{port}"
    yield central
    await runner.cleanup()


@pytest.fixture
async def agent_for(
    store: tuple[Database, EventStore], small_central: SmallCentral
) -> AsyncIterator[tuple[SyncAgent, Identity]]:
    db, events = store
    identity = Identity(
        small_central.url, "ap-test", "farm-test", private_key_text(new_private_key())
    )
    async with aiohttp.ClientSession() as session:
        agent = SyncAgent(
            events,
            IdentityStore(KeyValue(db)),
            CentralClient(session, timeout_s=5),
            SyncSettings(batch_size=16, retry_min_s=0.05, retry_max_s=0.1),
        )
        yield agent, identity
