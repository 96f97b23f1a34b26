"""Media records: clips and snapshots the appliance recorded for an incident."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from contracts.base import ContractModel, UtcDatetime
from contracts.ids import Identifier


class MediaKind(StrEnum):
    CLIP = "clip"
    SNAPSHOT = "snapshot"


class MediaRecord(ContractModel):
    """Payload of `incident.media_ready`: one finished clip or snapshot file.

    The bytes travel separately (pre-signed upload to central's object store); this record
    links them to the incident and lets a receiver check what it got.
    """

    media_id: UUID = Field(description="Stable id of the file; the object key is derived from it.")
    incident_id: UUID | None = Field(default=None, description="The incident it shows, if any.")
    camera_id: Identifier
    kind: MediaKind
    content_type: str = Field(pattern=r"^(video|image)/[a-z0-9.+-]+$", max_length=100)
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    started_at: UtcDatetime = Field(description="First frame (clip) or the frame (snapshot).")
    ended_at: UtcDatetime = Field(description="Last frame; equals started_at for a snapshot.")


class MediaUploadTicket(ContractModel):
    """Central's answer to an upload request: where to PUT the bytes, or that it has them."""

    media_id: UUID
    already_uploaded: bool = Field(
        default=False, description="Central holds this media already; nothing to send."
    )
    upload_url: str | None = Field(default=None, description="Pre-signed URL of the upload.")
    method: str | None = Field(default=None, pattern=r"^PUT$", description="HTTP method to use.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers the upload must carry exactly."
    )
    expires_at: UtcDatetime | None = Field(default=None, description="The URL's expiry.")


class MediaUploaded(ContractModel):
    """Central's answer to a completed upload: the object matched the record."""

    media_id: UUID
    uploaded_at: UtcDatetime
