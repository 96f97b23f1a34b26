"""The media uploader: clips and snapshots go to central's object store, straight.

The uploader takes ready files in rounds, oldest first (up to `_ROUND_FILES` files and
`_ROUND_BYTES` bytes): one request asks central for pre-signed uploads of all of them
(`POST /api/v1/sync/media/tickets`, signed like every sync request), the bytes go straight to
the URLs (central's local store or S3), `sync.media_parallel_uploads` files at a time, and one
request confirms the round (`POST /api/v1/sync/media/completions`); central checks size and
checksum before it counts a file as uploaded. A central without those batch endpoints (404 or
405) gets the single-file ones (`POST /api/v1/sync/media`, `.../{id}/complete`) instead.

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
from pydantic import ConfigDict

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
_NO_SUCH_ENDPOINT = (404, 405)
_CHUNK = 256 * 1024
_ROUND_FILES = 50  # central takes up to 100 per batch request
_ROUND_BYTES = 64 * 1024**2  # a round's uploads finish well within a ticket's lifetime


class _Reply(ContractModel):
    """Central's batch replies (tolerant of fields added later)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _ItemError(_Reply):
    status: int
    detail: str


class _TicketResult(_Reply):
    media_id: UUID
    ticket: MediaUploadTicket | None = None
    error: _ItemError | None = None


class _TicketResults(_Reply):
    results: list[_TicketResult]


class _CompletionResult(_Reply):
    media_id: UUID
    uploaded: MediaUploaded | None = None
    error: _ItemError | None = None


class _CompletionResults(_Reply):
    results: list[_CompletionResult]


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

    async def mark_uploaded(self, media_ids: list[UUID], at: datetime) -> None:
        if not media_ids:
            return
        when = at.astimezone(UTC).isoformat()
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE media SET uploaded_at = ?, upload_error = NULL WHERE media_id = ?",
                [(when, str(m)) for m in media_ids],
            )

    async def counts(self) -> dict[str, int]:
        """Ready files not uploaded yet (`pending`, of which `failed` failed at least once)
        and files uploaded."""
        row = await self.db.fetch_one(
            "SELECT"
            " COALESCE(SUM(uploaded_at IS NULL), 0),"
            " COALESCE(SUM(uploaded_at IS NULL AND upload_attempts > 0), 0),"
            " COALESCE(SUM(uploaded_at IS NOT NULL), 0)"
            " FROM media WHERE state = 'ready'"
        )
        pending, failed, uploaded = (int(v) for v in row) if row else (0, 0, 0)
        return {"pending": pending, "failed": failed, "uploaded": uploaded}

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
        self._batch_api = True  # until central answers 404/405 to a batch endpoint

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
        """Upload a round of the files that may go now; False when there is none.

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
        ready = await self.queue.next_ready(
            max_bytes=remaining, exclude=waiting, limit=_ROUND_FILES
        )
        batch = _within(ready, remaining)
        if not batch:
            held = remaining is not None and bool(
                await self.queue.next_ready(max_bytes=None, exclude=waiting)
            )
            self.status.waiting_for = "budget" if held else None
            return False
        self.status.waiting_for = None
        failures = await self.upload(identity, batch)
        link_failures = [err for err in failures if _link_problem(err)]
        if link_failures:
            raise link_failures[0]
        return True

    async def upload(self, identity: Identity, batch: list[PendingMedia]) -> list[CentralError]:
        """Ask for tickets, PUT the bytes, confirm; marks the rows uploaded.

        Returns the failures, each recorded on its row and given its own backoff."""
        failures: list[tuple[PendingMedia, CentralError]] = []
        intact = []
        sizes = await asyncio.gather(*(_file_size(m.path) for m in batch))
        for media, size in zip(batch, sizes, strict=True):
            if size == media.record.size_bytes:
                intact.append(media)
            else:
                changed = f"{size} bytes, row says {media.record.size_bytes}"
                failures.append(
                    (media, MediaFileError(f"{media.path} is missing or changed ({changed})"))
                )
        done: list[PendingMedia] = []
        to_put: list[tuple[PendingMedia, MediaUploadTicket]] = []
        tickets = await self._tickets(identity, intact)
        for media in intact:
            ticket = tickets[media.media_id]
            if isinstance(ticket, CentralError):
                failures.append((media, ticket))
            elif ticket.already_uploaded:
                done.append(media)
            else:
                to_put.append((media, ticket))
        stored = []
        for (media, _), put_error in zip(to_put, await self._put_all(to_put), strict=True):
            if put_error is None:
                stored.append(media)
            else:
                failures.append((media, put_error))
        confirmed = await self._complete(identity, stored)
        for media in stored:
            result = confirmed[media.media_id]
            if isinstance(result, CentralError):
                failures.append((media, result))
            else:
                done.append(media)
                self.status.bytes_uploaded += media.record.size_bytes
        await self.queue.mark_uploaded([m.media_id for m in done], datetime.now(UTC))
        if done:
            self.status.uploaded += len(done)
            self.status.last_success_at = datetime.now(UTC)
        for media, err in failures:
            await self.queue.note_failure(media.media_id, str(err))
            self._not_before[media.media_id] = time.monotonic() + self._backoff(media.attempts)
            if not _link_problem(err):  # the link's problems are logged once by `run`
                log.warning(
                    "media %s not uploaded (attempt %d): %s",
                    media.media_id,
                    media.attempts + 1,
                    err,
                )
        return [err for _, err in failures]

    async def _tickets(
        self, identity: Identity, batch: list[PendingMedia]
    ) -> dict[UUID, MediaUploadTicket | CentralError]:
        """A ticket or an error per file; a failure of the whole request counts for each."""
        if not batch:
            return {}
        try:
            if self._batch_api:
                body = "[" + ",".join(m.record.model_dump_json() for m in batch) + "]"
                try:
                    reply = await self._post(
                        identity,
                        "/api/v1/sync/media/tickets",
                        f'{{"items":{body}}}'.encode(),
                        _TicketResults,
                    )
                except CentralError as err:
                    if err.status not in _NO_SUCH_ENDPOINT:
                        raise
                    log.info("central has no batch media endpoints; uploading file by file")
                    self._batch_api = False
                else:
                    answered = {r.media_id: _ticket_or_error(r) for r in reply.results}
                    return {m.media_id: _answer(answered, m.media_id) for m in batch}
            return dict(
                zip(
                    [m.media_id for m in batch],
                    await asyncio.gather(*(self._ticket(identity, m) for m in batch)),
                    strict=True,
                )
            )
        except CentralError as err:
            return {m.media_id: err for m in batch}

    async def _ticket(
        self, identity: Identity, media: PendingMedia
    ) -> MediaUploadTicket | CentralError:
        try:
            return await self._post(
                identity,
                "/api/v1/sync/media",
                media.record.model_dump_json().encode(),
                MediaUploadTicket,
            )
        except CentralError as err:
            return err

    async def _put_all(
        self, to_put: list[tuple[PendingMedia, MediaUploadTicket]]
    ) -> list[CentralError | None]:
        """PUT each file to its URL, `media_parallel_uploads` at a time."""
        parallel = asyncio.Semaphore(self.settings.media_parallel_uploads)

        async def put(media: PendingMedia, ticket: MediaUploadTicket) -> CentralError | None:
            async with parallel:
                try:
                    await self._put(media, ticket)
                except CentralError as err:
                    return err
                return None

        return await asyncio.gather(*(put(m, t) for m, t in to_put))

    async def _complete(
        self, identity: Identity, stored: list[PendingMedia]
    ) -> dict[UUID, MediaUploaded | CentralError]:
        """Central's check of each stored file; a failure of the request counts for each."""
        if not stored:
            return {}
        ids = [m.media_id for m in stored]
        try:
            if self._batch_api:
                body = ",".join(f'"{m}"' for m in ids)
                reply = await self._post(
                    identity,
                    "/api/v1/sync/media/completions",
                    f'{{"media_ids":[{body}]}}'.encode(),
                    _CompletionResults,
                )
                answered = {r.media_id: _uploaded_or_error(r) for r in reply.results}
                return {m: _answer(answered, m) for m in ids}
            results = await asyncio.gather(*(self._confirm(identity, m) for m in ids))
            return dict(zip(ids, results, strict=True))
        except CentralError as err:
            return dict.fromkeys(ids, err)

    async def _confirm(self, identity: Identity, media_id: UUID) -> MediaUploaded | CentralError:
        try:
            return await self._post(
                identity, f"/api/v1/sync/media/{media_id}/complete", b"", MediaUploaded
            )
        except CentralError as err:
            return err

    async def report(self) -> dict[str, object]:
        """What the status API shows: file counts, today's bytes against the budget, state."""
        status = self.status
        return {
            **await self.queue.counts(),
            "bytes_today": await self.queue.uploaded_bytes_since(_midnight()),
            "daily_budget_bytes": self.settings.media_daily_budget_bytes,
            "waiting_for": status.waiting_for,
            "last_success_at": status.last_success_at.isoformat()
            if status.last_success_at
            else None,
            "last_error": status.last_error,
        }

    async def _budget_left(self) -> int | None:
        budget = self.settings.media_daily_budget_bytes
        if budget is None:
            return None
        return budget - await self.queue.uploaded_bytes_since(_midnight())

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


def _midnight() -> datetime:
    """Start of today (UTC): the media budget is per UTC day."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _within(batch: list[PendingMedia], budget: int | None) -> list[PendingMedia]:
    """The oldest files of the batch whose sizes together fit in what is left today and in
    a round (the first file always fits a round)."""
    chosen: list[PendingMedia] = []
    total = 0
    for media in batch:
        size = media.record.size_bytes
        if budget is not None and total + size > budget:
            break
        if chosen and total + size > _ROUND_BYTES:
            break
        total += size
        chosen.append(media)
    return chosen


R = TypeVar("R")


def _answer(answered: dict[UUID, R | CentralError], media_id: UUID) -> R | CentralError:
    missing = CentralError(f"central's reply left out media {media_id}", status=502)
    return answered.get(media_id, missing)


def _ticket_or_error(result: _TicketResult) -> MediaUploadTicket | CentralError:
    if result.ticket is not None:
        return result.ticket
    return _item_error(result.error, "no ticket")


def _uploaded_or_error(result: _CompletionResult) -> MediaUploaded | CentralError:
    if result.uploaded is not None:
        return result.uploaded
    return _item_error(result.error, "not confirmed")


def _item_error(error: _ItemError | None, missing: str) -> CentralError:
    if error is None:
        return CentralError(f"central answered neither result nor error ({missing})", status=502)
    return CentralError(
        f"central answered {error.status}: {error.detail[:300]}", status=error.status
    )


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
