"""The media uploader: clips and snapshots go to central's object store, straight.

For each ready file, oldest first, the uploader asks central for a pre-signed upload
(`POST /api/v1/sync/media`, signed like every sync request), PUTs the bytes to the URL it
got (central's local store or S3) and confirms (`POST /api/v1/sync/media/{id}/complete`);
central checks size and checksum before it counts the file as uploaded.

Media waits for the event outbox to drain (events always go first) and stays within a
daily byte budget on metered links. A file that fails is retried with backoff and jitter;
meanwhile the others go, so one bad file never blocks the rest.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar
from uuid import UUID

import aiohttp

from appliance.errors import CentralError
from appliance.settings import SyncSettings
from appliance.store.db import Database
from appliance.store.events import EventStore
from appliance.sync.client import CentralClient
from appliance.sync.errors import CentralTimeoutError
from appliance.sync.identity import Identity, IdentityStore
from contracts import ContractModel
from contracts.media import MediaKind, MediaRecord, MediaUploaded, MediaUploadTicket

log = logging.getLogger(__name__)

M = TypeVar("M", bound=ContractModel)
_CHUNK = 256 * 1024


class MediaFileError(CentralError):
    """The file on disk is gone or no longer matches its row."""


@dataclass(frozen=True)
class PendingMedia:
    """A ready file that central does not have yet."""

    media_id: UUID
    record: MediaRecord
    path: Path
    attempts: int


class MediaQueue:
    """The upload columns of the appliance's `media` table (rows are made by the recorder)."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir

    async def next_ready(
        self, *, max_bytes: int | None, exclude: list[UUID], limit: int = 1
    ) -> list[PendingMedia]:
        """Oldest ready, not uploaded files (up to `max_bytes` each), skipping `exclude`."""
        where = "state = 'ready' AND uploaded_at IS NULL AND size_bytes > 0 AND sha256 IS NOT NULL"
        params: list[object] = []
        if max_bytes is not None:
            where += " AND size_bytes <= ?"
            params.append(max_bytes)
        if exclude:
            where += f" AND media_id NOT IN ({','.join('?' * len(exclude))})"
            params += [str(m) for m in exclude]
        rows = await self.db.fetch_all(
            f"SELECT * FROM media WHERE {where} ORDER BY created_at, media_id LIMIT ?",
            (*params, limit),
        )
        pending = []
        for row in rows:
            started = datetime.fromisoformat(row["started_at"])
            path = Path(row["path"])
            record = MediaRecord(
                media_id=UUID(row["media_id"]),
                incident_id=UUID(row["incident_id"]) if row["incident_id"] else None,
                camera_id=row["camera_id"],
                kind=MediaKind(row["kind"]),
                content_type=row["content_type"],
                size_bytes=row["size_bytes"],
                sha256=row["sha256"],
                started_at=started,
                ended_at=datetime.fromisoformat(row["ended_at"]) if row["ended_at"] else started,
            )
            pending.append(
                PendingMedia(
                    record.media_id,
                    record,
                    path if path.is_absolute() else self.data_dir / path,
                    row["upload_attempts"],
                )
            )
        return pending

    async def uploaded_bytes_since(self, since: datetime) -> int:
        row = await self.db.fetch_one(
            "SELECT COALESCE(SUM(size_bytes), 0) FROM media WHERE uploaded_at >= ?",
            (since.astimezone(UTC).isoformat(),),
        )
        return int(row[0]) if row else 0

    async def mark_uploaded(self, media_id: UUID, at: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE media SET uploaded_at = ?, upload_error = NULL WHERE media_id = ?",
                (at.astimezone(UTC).isoformat(), str(media_id)),
            )

    async def note_failure(self, media_id: UUID, error: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE media SET upload_attempts = upload_attempts + 1, upload_error = ?"
                " WHERE media_id = ?",
                (error[:500], str(media_id)),
            )


@dataclass
class MediaUploadStatus:
    uploaded: int = 0
    bytes_uploaded: int = 0
    last_success_at: datetime | None = None
    last_error: str | None = None
    waiting_for: str | None = None  # "enrolment", "events" or "budget"


class MediaUploader:
    def __init__(
        self,
        queue: MediaQueue,
        events: EventStore,
        identities: IdentityStore,
        client: CentralClient,
        settings: SyncSettings,
    ) -> None:
        self.queue = queue
        self.events = events
        self.identities = identities
        self.client = client
        self.settings = settings
        self.status = MediaUploadStatus()
        self._not_before: dict[UUID, float] = {}  # failed files wait until then (monotonic)

    async def run(self) -> None:
        """Loop forever: upload what may go now, back off with jitter when central fails."""
        delay = self.settings.retry_min_s
        while True:
            identity = await self.identities.load()
            if identity is None or not self.settings.media_upload:
                self.status.waiting_for = "enrolment" if identity is None else None
                await asyncio.sleep(self.settings.idle_interval_s)
                continue
            try:
                handled = await self.upload_once(identity)
            except CentralError as err:
                if self.status.last_error is None:
                    log.warning("media upload failed, will retry: %s", err)
                self.status.last_error = str(err)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, self.settings.media_retry_max_s)
                continue
            if handled and self.status.last_error is not None:
                log.info("media upload recovered")
                self.status.last_error = None
            delay = self.settings.retry_min_s
            if not handled:
                await asyncio.sleep(self.settings.idle_interval_s)

    async def upload_once(self, identity: Identity) -> bool:
        """Upload the next file that may go now; False when there is none.

        Raises `CentralError` when central or the store could not be reached (the caller
        backs off); a file that central or the store refuses only waits its own backoff.
        """
        if await self.events.pending(1):
            self.status.waiting_for = "events"
            return False
        remaining = await self._budget_left()
        if remaining is not None and remaining <= 0:
            self.status.waiting_for = "budget"
            return False
        now = time.monotonic()
        self._not_before = {m: t for m, t in self._not_before.items() if t > now}
        waiting = list(self._not_before)
        batch = await self.queue.next_ready(
            max_bytes=remaining, exclude=waiting, limit=self.settings.media_parallel_uploads
        )
        batch = _within_budget(batch, remaining)
        if not batch:
            held = remaining is not None and bool(
                await self.queue.next_ready(max_bytes=None, exclude=waiting)
            )
            self.status.waiting_for = "budget" if held else None
            return False
        self.status.waiting_for = None
        failures = await asyncio.gather(*(self._try_upload(identity, m) for m in batch))
        link_failures = [err for err in failures if err is not None]
        if link_failures:
            raise link_failures[0]
        return True

    async def _try_upload(self, identity: Identity, media: PendingMedia) -> CentralError | None:
        """Upload one file; a failure is recorded and returned when it is the link's."""
        try:
            await self.upload(identity, media)
        except CentralError as err:
            await self.queue.note_failure(media.media_id, str(err))
            self._not_before[media.media_id] = time.monotonic() + self._backoff(media.attempts)
            log.warning(
                "media %s not uploaded (attempt %d): %s", media.media_id, media.attempts + 1, err
            )
            return err if _link_problem(err) else None
        return None

    async def upload(self, identity: Identity, media: PendingMedia) -> None:
        """Ask for a ticket, PUT the bytes, confirm; marks the row uploaded."""
        size = await _file_size(media.path)
        if size != media.record.size_bytes:
            raise MediaFileError(
                f"{media.path} is missing or changed ({size} bytes, row says "
                f"{media.record.size_bytes})"
            )
        ticket = await self._post(
            identity,
            "/api/v1/sync/media",
            media.record.model_dump_json().encode(),
            MediaUploadTicket,
        )
        if not ticket.already_uploaded:
            await self._put(media, ticket)
            await self._post(
                identity, f"/api/v1/sync/media/{media.media_id}/complete", b"", MediaUploaded
            )
            self.status.bytes_uploaded += size
        await self.queue.mark_uploaded(media.media_id, datetime.now(UTC))
        self.status.uploaded += 1
        self.status.last_success_at = datetime.now(UTC)

    async def _budget_left(self) -> int | None:
        budget = self.settings.media_daily_budget_bytes
        if budget is None:
            return None
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return budget - await self.queue.uploaded_bytes_since(midnight)

    def _backoff(self, attempts: int) -> float:
        growth: float = 2.0 ** min(attempts, 30)
        base = min(self.settings.retry_min_s * growth, self.settings.media_retry_max_s)
        return base * random.uniform(0.5, 1.5)

    async def _put(self, media: PendingMedia, ticket: MediaUploadTicket) -> None:
        if ticket.upload_url is None:
            raise CentralError("central's upload ticket has no URL")
        headers = {**ticket.headers, "Content-Length": str(media.record.size_bytes)}
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.settings.request_timeout_s,
            sock_read=self.settings.request_timeout_s,
        )
        try:
            handle = await asyncio.to_thread(media.path.open, "rb")
        except OSError as err:
            raise MediaFileError(f"cannot read {media.path}: {err}") from err
        chunks = _chunks(handle)
        try:
            async with self.client.session.request(
                ticket.method or "PUT",
                ticket.upload_url,
                data=chunks,
                headers=headers,
                timeout=timeout,
            ) as resp:
                text = await resp.text()
                if resp.status >= 300:
                    raise CentralError(
                        f"the object store answered {resp.status}: {text[:300]}",
                        status=resp.status,
                    )
        except TimeoutError as err:
            raise CentralTimeoutError("the object store did not answer in time") from err
        except aiohttp.ClientError as err:
            raise CentralError(f"cannot reach the object store: {err!r}") from err
        finally:
            await chunks.aclose()
            await asyncio.to_thread(handle.close)

    async def _post(self, identity: Identity, path: str, body: bytes, reply: type[M]) -> M:
        url = f"{identity.server_url}{path}"
        headers = self.client.signer.headers(identity, "POST", url, body)
        return await self.client.post(url, body, reply, headers)


def _within_budget(batch: list[PendingMedia], remaining: int | None) -> list[PendingMedia]:
    """The oldest files of the batch whose sizes together fit in what is left today."""
    if remaining is None:
        return batch
    chosen = []
    for media in batch:
        if media.record.size_bytes > remaining:
            break
        remaining -= media.record.size_bytes
        chosen.append(media)
    return chosen


def _link_problem(err: CentralError) -> bool:
    """Unreachable, timed out or a server error: the link or central, not this file."""
    if isinstance(err, MediaFileError):
        return False
    return err.status is None or err.status >= 500


async def _file_size(path: Path) -> int | None:
    try:
        stat = await asyncio.to_thread(path.stat)
    except OSError:
        return None
    return stat.st_size


async def _chunks(handle: BinaryIO) -> AsyncGenerator[bytes, None]:
    """The file's bytes, read in a thread chunk by chunk (the caller closes the file)."""
    while chunk := await asyncio.to_thread(handle.read, _CHUNK):
        yield chunk
