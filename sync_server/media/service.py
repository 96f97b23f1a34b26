"""Media records on central: upload tickets, verified completion, links for HQ.

An appliance announces a file (its `MediaRecord`), gets a pre-signed PUT for the object
store, uploads the bytes there and confirms; central then checks the stored object against
the announced size and checksum before it counts as uploaded. Everything is scoped to the
appliance's farm and idempotent by media id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts.media import MediaRecord, MediaUploaded, MediaUploadTicket
from sync_server.media.errors import (
    MediaConflictError,
    MediaError,
    MediaNotFoundError,
    ObjectTooLargeError,
    UploadIncompleteError,
)
from sync_server.media.settings import MediaSettings
from sync_server.media.store import ObjectInfo, ObjectStore, PresignedRequest, media_key
from sync_server.models import ApplianceRecord, MediaObjectRecord, as_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaLink:
    """A media record with, once uploaded, a pre-signed download."""

    record: MediaObjectRecord
    download: PresignedRequest | None


class MediaService:
    def __init__(self, store: ObjectStore, settings: MediaSettings) -> None:
        self.store = store
        self.settings = settings

    async def request_upload(
        self,
        session: AsyncSession,
        appliance: ApplianceRecord,
        media: MediaRecord,
        base_url: str,
    ) -> MediaUploadTicket:
        """Register the media (once) and hand out a pre-signed upload, unless it is stored."""
        (ticket,) = await self.request_uploads(session, appliance, [media], base_url)
        if isinstance(ticket, MediaError):
            raise ticket
        return ticket

    async def request_uploads(
        self,
        session: AsyncSession,
        appliance: ApplianceRecord,
        records: Sequence[MediaRecord],
        base_url: str,
    ) -> list[MediaUploadTicket | MediaError]:
        """`request_upload` for several files, answered in order, each with its ticket or its
        own error; registered in one statement. `ObjectStoreError` fails the whole call."""
        results: list[MediaUploadTicket | MediaError | None] = [None] * len(records)
        fresh: list[MediaRecord] = []
        for n, media in enumerate(records):
            try:
                self.store.check_size(media.size_bytes)
            except ObjectTooLargeError as err:
                results[n] = err
                continue
            fresh.append(media)
        rows = await self._register(session, appliance, fresh)
        for n, media in enumerate(records):
            if results[n] is None:
                results[n] = await self._ticket(session, appliance, media, rows, base_url)
        return [r for r in results if r is not None]

    async def _ticket(
        self,
        session: AsyncSession,
        appliance: ApplianceRecord,
        media: MediaRecord,
        rows: dict[UUID, MediaObjectRecord],
        base_url: str,
    ) -> MediaUploadTicket | MediaError:
        row = rows.get(media.media_id)
        if row is None or row.farm_id != appliance.farm_id:
            return MediaConflictError(f"media {media.media_id} belongs to another farm")
        if (row.size_bytes, row.sha256, row.incident_id) != (
            media.size_bytes,
            media.sha256,
            media.incident_id,
        ):
            return MediaConflictError(
                f"media {media.media_id} was announced before with other content"
            )
        if row.uploaded_at is not None or await self._stored_intact(session, row):
            # Stored before, perhaps with the confirmation lost: no need to send it again.
            return MediaUploadTicket(media_id=media.media_id, already_uploaded=True)
        put = await self.store.presign_upload(
            row.object_key,
            size=row.size_bytes,
            sha256=row.sha256,
            content_type=row.content_type,
            expires_in=timedelta(seconds=self.settings.upload_url_ttl_s),
            base_url=base_url,
        )
        return MediaUploadTicket(
            media_id=media.media_id,
            upload_url=put.url,
            method=put.method,
            headers=put.headers,
            expires_at=put.expires_at,
        )

    async def _register(
        self, session: AsyncSession, appliance: ApplianceRecord, records: Sequence[MediaRecord]
    ) -> dict[UUID, MediaObjectRecord]:
        """Insert the records not known yet (one statement), then read back every one."""
        if not records:
            return {}
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = datetime.now(UTC)
        values = [
            {
                "media_id": media.media_id,
                "farm_id": appliance.farm_id,
                "appliance_id": appliance.id,
                "incident_id": media.incident_id,
                "camera_id": media.camera_id,
                "kind": media.kind.value,
                "content_type": media.content_type,
                "size_bytes": media.size_bytes,
                "sha256": media.sha256,
                "object_key": media_key(appliance.farm_id, media.media_id, media.content_type),
                "started_at": media.started_at,
                "ended_at": media.ended_at,
                "created_at": now,
                "uploaded_at": None,
            }
            for media in records
        ]
        table = MediaObjectRecord.metadata.tables["media_objects"]
        await session.exec(
            insert(table).on_conflict_do_nothing(index_elements=["media_id"]), params=values
        )
        await session.commit()
        return await self._rows(session, [media.media_id for media in records])

    async def _rows(
        self, session: AsyncSession, media_ids: Sequence[UUID]
    ) -> dict[UUID, MediaObjectRecord]:
        query = (
            select(MediaObjectRecord)
            .where(col(MediaObjectRecord.media_id).in_(set(media_ids)))
            .execution_options(populate_existing=True)
        )
        return {row.media_id: row for row in (await session.exec(query)).all()}

    async def complete_upload(
        self, session: AsyncSession, appliance: ApplianceRecord, media_id: UUID
    ) -> MediaUploaded:
        """Check the stored object against the record, then mark it uploaded (idempotent)."""
        (done,) = await self.complete_uploads(session, appliance, [media_id])
        if isinstance(done, MediaError):
            raise done
        return done

    async def complete_uploads(
        self, session: AsyncSession, appliance: ApplianceRecord, media_ids: Sequence[UUID]
    ) -> list[MediaUploaded | MediaError]:
        """`complete_upload` for several files, answered in order, each with its own error;
        the rows found intact are marked uploaded in one commit."""
        rows = await self._rows(session, media_ids)
        results: list[MediaUploaded | MediaError] = []
        marked: list[MediaObjectRecord] = []
        for media_id in media_ids:
            row = rows.get(media_id)
            if row is None or row.farm_id != appliance.farm_id:
                results.append(MediaNotFoundError(f"no media {media_id} for this farm"))
            elif row.uploaded_at is not None:
                results.append(
                    MediaUploaded(media_id=media_id, uploaded_at=as_utc(row.uploaded_at))
                )
            else:
                checked = await self._check_stored(row)
                if checked is None:
                    row.uploaded_at = datetime.now(UTC)
                    session.add(row)
                    marked.append(row)
                    results.append(MediaUploaded(media_id=media_id, uploaded_at=row.uploaded_at))
                else:
                    results.append(checked)
        if marked:
            await session.commit()
            for row in marked:
                _log_uploaded(row)
        return results

    async def _check_stored(self, row: MediaObjectRecord) -> UploadIncompleteError | None:
        """None when the stored object matches the record; a mismatch deletes the object."""
        info = await self.store.stat(row.object_key)
        if info is None:
            return UploadIncompleteError(f"media {row.media_id} has not been uploaded")
        if not _matches(row, info):
            await self.store.delete(row.object_key)
            return UploadIncompleteError(
                f"the stored object of media {row.media_id} does not match its record "
                f"({info.size} bytes, expected {row.size_bytes}); upload it again"
            )
        return None

    async def _stored_intact(self, session: AsyncSession, row: MediaObjectRecord) -> bool:
        """Whether the object is already stored as announced (then it is marked uploaded)."""
        info = await self.store.stat(row.object_key)
        if info is None or not _matches(row, info):
            return False
        await self._mark_uploaded(session, row)
        return True

    async def _mark_uploaded(self, session: AsyncSession, row: MediaObjectRecord) -> datetime:
        row.uploaded_at = datetime.now(UTC)
        session.add(row)
        await session.commit()
        _log_uploaded(row)
        return row.uploaded_at

    async def incident_media(
        self, session: AsyncSession, farm_id: str, incident_id: UUID, base_url: str
    ) -> list[MediaLink]:
        """The incident's media, oldest first; uploaded ones with an expiring download URL."""
        rows = (
            await session.exec(
                select(MediaObjectRecord)
                .where(MediaObjectRecord.farm_id == farm_id)
                .where(MediaObjectRecord.incident_id == incident_id)
                .order_by(col(MediaObjectRecord.started_at), col(MediaObjectRecord.media_id))
            )
        ).all()
        ttl = timedelta(seconds=self.settings.download_url_ttl_s)
        links = []
        for row in rows:
            download = None
            if row.uploaded_at is not None:
                download = await self.store.presign_download(
                    row.object_key, expires_in=ttl, base_url=base_url
                )
            links.append(MediaLink(row, download))
        return links


def _log_uploaded(row: MediaObjectRecord) -> None:
    log.info("media %s of farm %s uploaded (%d bytes)", row.media_id, row.farm_id, row.size_bytes)


def _matches(row: MediaObjectRecord, info: ObjectInfo) -> bool:
    """Same size, and the same checksum when the store knows it."""
    return info.size == row.size_bytes and info.sha256 in (None, row.sha256)
