"""Media endpoints: upload tickets and confirmation for appliances, download links for HQ,
and the signed object URLs of the local store (served here, nothing else is proxied)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from contracts.ids import IDENTIFIER_PATTERN
from contracts.media import MediaKind, MediaRecord, MediaUploaded, MediaUploadTicket
from sync_server.api.deps import Admin, Appliance, Session
from sync_server.media.errors import (
    InvalidKeyError,
    MediaConflictError,
    MediaError,
    MediaNotFoundError,
    ObjectStoreError,
    ObjectTooLargeError,
    UploadIncompleteError,
    UrlRefusedError,
)
from sync_server.media.local import LocalObjectStore
from sync_server.media.service import MediaLink, MediaService
from sync_server.models import as_utc

router = APIRouter(prefix="/api/v1", tags=["media"])
objects_router = APIRouter(tags=["objects"])

_STATUS: list[tuple[type[MediaError], int]] = [
    (UrlRefusedError, status.HTTP_403_FORBIDDEN),
    (InvalidKeyError, status.HTTP_400_BAD_REQUEST),
    (MediaNotFoundError, status.HTTP_404_NOT_FOUND),
    (MediaConflictError, status.HTTP_409_CONFLICT),
    (UploadIncompleteError, status.HTTP_409_CONFLICT),
    (ObjectTooLargeError, status.HTTP_413_CONTENT_TOO_LARGE),
    (ObjectStoreError, status.HTTP_503_SERVICE_UNAVAILABLE),
]


def http_error(err: MediaError) -> HTTPException:
    code = next((c for kind, c in _STATUS if isinstance(err, kind)), 500)
    return HTTPException(code, detail=str(err))


def get_media(request: Request) -> MediaService:
    media: MediaService = request.app.state.media
    return media


Media = Annotated[MediaService, Depends(get_media)]


def _base_url(request: Request) -> str:
    return str(request.base_url)


@router.post("/sync/media", response_model=MediaUploadTicket)
async def request_upload(
    record: MediaRecord, appliance: Appliance, session: Session, media: Media, request: Request
) -> MediaUploadTicket:
    """A pre-signed upload for this file, or `already_uploaded` (idempotent by media id)."""
    try:
        return await media.request_upload(session, appliance, record, _base_url(request))
    except MediaError as err:
        raise http_error(err) from err


@router.post("/sync/media/{media_id}/complete", response_model=MediaUploaded)
async def complete_upload(
    media_id: UUID, appliance: Appliance, session: Session, media: Media
) -> MediaUploaded:
    """Central checks the stored object's size and checksum, then links it to its incident."""
    try:
        return await media.complete_upload(session, appliance, media_id)
    except MediaError as err:
        raise http_error(err) from err


MAX_MEDIA_BATCH = 100


class MediaItemError(BaseModel):
    status: int = Field(description="The HTTP status the single-file endpoint would answer.")
    detail: str


class MediaTicketsRequest(BaseModel):
    items: list[MediaRecord] = Field(min_length=1, max_length=MAX_MEDIA_BATCH)


class MediaTicketResult(BaseModel):
    media_id: UUID
    ticket: MediaUploadTicket | None = Field(default=None, description="Unset on error.")
    error: MediaItemError | None = None


class MediaTicketsResponse(BaseModel):
    results: list[MediaTicketResult] = Field(description="One per item, in request order.")


class MediaCompletionsRequest(BaseModel):
    media_ids: list[UUID] = Field(min_length=1, max_length=MAX_MEDIA_BATCH)


class MediaCompletionResult(BaseModel):
    media_id: UUID
    uploaded: MediaUploaded | None = Field(default=None, description="Unset on error.")
    error: MediaItemError | None = None


class MediaCompletionsResponse(BaseModel):
    results: list[MediaCompletionResult] = Field(description="One per id, in request order.")


def _item_error(err: MediaError) -> MediaItemError:
    return MediaItemError(status=http_error(err).status_code, detail=str(err))


@router.post("/sync/media/tickets", response_model=MediaTicketsResponse)
async def request_uploads(
    body: MediaTicketsRequest,
    appliance: Appliance,
    session: Session,
    media: Media,
    request: Request,
) -> MediaTicketsResponse:
    """`POST /sync/media` for up to 100 files: a ticket or an error per file, in order.
    An unreachable object store fails the whole request (503)."""
    try:
        tickets = await media.request_uploads(session, appliance, body.items, _base_url(request))
    except ObjectStoreError as err:
        raise http_error(err) from err
    return MediaTicketsResponse(
        results=[
            MediaTicketResult(media_id=record.media_id, error=_item_error(ticket))
            if isinstance(ticket, MediaError)
            else MediaTicketResult(media_id=record.media_id, ticket=ticket)
            for record, ticket in zip(body.items, tickets, strict=True)
        ]
    )


@router.post("/sync/media/completions", response_model=MediaCompletionsResponse)
async def complete_uploads(
    body: MediaCompletionsRequest, appliance: Appliance, session: Session, media: Media
) -> MediaCompletionsResponse:
    """`POST /sync/media/{media_id}/complete` for up to 100 files: each checked against its
    record, answered in order. An unreachable object store fails the whole request (503)."""
    try:
        done = await media.complete_uploads(session, appliance, body.media_ids)
    except ObjectStoreError as err:
        raise http_error(err) from err
    return MediaCompletionsResponse(
        results=[
            MediaCompletionResult(media_id=media_id, error=_item_error(result))
            if isinstance(result, MediaError)
            else MediaCompletionResult(media_id=media_id, uploaded=result)
            for media_id, result in zip(body.media_ids, done, strict=True)
        ]
    )


class MediaItem(BaseModel):
    media_id: UUID
    incident_id: UUID | None
    camera_id: str
    kind: MediaKind
    content_type: str
    size_bytes: int
    sha256: str
    started_at: datetime
    ended_at: datetime
    uploaded_at: datetime | None = Field(description="Unset while the upload is pending.")
    download_url: str | None = Field(description="Pre-signed GET, once uploaded.")
    expires_at: datetime | None = Field(description="When the download URL stops working.")


class MediaList(BaseModel):
    items: list[MediaItem]


@router.get(
    "/farms/{farm_id}/incidents/{incident_id}/media",
    response_model=MediaList,
    dependencies=[Admin],
)
async def incident_media(
    farm_id: Annotated[str, Path(pattern=IDENTIFIER_PATTERN)],
    incident_id: UUID,
    session: Session,
    media: Media,
    request: Request,
) -> MediaList:
    try:
        links = await media.incident_media(session, farm_id, incident_id, _base_url(request))
    except MediaError as err:
        raise http_error(err) from err
    return MediaList(items=[_item(link) for link in links])


def _item(link: MediaLink) -> MediaItem:
    row = link.record
    return MediaItem(
        media_id=row.media_id,
        incident_id=row.incident_id,
        camera_id=row.camera_id,
        kind=MediaKind(row.kind),
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        started_at=as_utc(row.started_at),
        ended_at=as_utc(row.ended_at),
        uploaded_at=as_utc(row.uploaded_at) if row.uploaded_at else None,
        download_url=link.download.url if link.download else None,
        expires_at=link.download.expires_at if link.download else None,
    )


def local_store(media: Media) -> LocalObjectStore:
    if not isinstance(media.store, LocalObjectStore):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="objects are not stored here")
    return media.store


LocalStore = Annotated[LocalObjectStore, Depends(local_store)]
SignedQuery = Annotated[str | None, Query()]


@objects_router.get("/objects/{key:path}")
async def get_object(
    key: str,
    store: LocalStore,
    method: SignedQuery = None,
    expires: SignedQuery = None,
    sig: SignedQuery = None,
) -> FileResponse:
    """Download through a signed URL of the local store."""
    try:
        path = store.verify("GET", key, method, expires, sig)
    except MediaError as err:
        raise http_error(err) from err
    if not await asyncio.to_thread(path.is_file):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such object")
    return FileResponse(path)


class StoredObject(BaseModel):
    key: str
    size: int


@objects_router.put("/objects/{key:path}", response_model=StoredObject)
async def put_object(
    key: str,
    request: Request,
    store: LocalStore,
    method: SignedQuery = None,
    expires: SignedQuery = None,
    sig: SignedQuery = None,
) -> StoredObject:
    """Upload through a signed URL of the local store (bodies over the limit get 413)."""
    try:
        store.verify("PUT", key, method, expires, sig)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > store.max_object_bytes:
            raise ObjectTooLargeError(f"the object is over {store.max_object_bytes} bytes")
        size = await store.write(key, _body(request))
    except MediaError as err:
        raise http_error(err) from err
    return StoredObject(key=key, size=size)


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk
