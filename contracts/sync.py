"""Payloads of the sync API between appliance and central."""

from __future__ import annotations

import hashlib
from uuid import UUID

from pydantic import Field, JsonValue

from contracts.base import ContractModel, UtcDatetime
from contracts.ids import Identifier

MAX_BATCH = 1000

# Signed requests: every appliance request carries these headers. The signature is Ed25519
# over `signed_message(...)`; central refuses timestamps off by more than the allowed skew.
APPLIANCE_HEADER = "X-Byre-Appliance"
TIMESTAMP_HEADER = "X-Byre-Timestamp"
SIGNATURE_HEADER = "X-Byre-Signature"
MAX_CLOCK_SKEW_S = 300


def signed_message(method: str, target: str, timestamp: str, body: bytes) -> bytes:
    """`METHOD\nPATH\nTIMESTAMP\nsha256(body)`: what an appliance signs for one request.

    `target` is the path with its query string (if any); `timestamp` is Unix time in
    milliseconds as sent; `body` is the request body before any content encoding.
    """
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{target}\n{timestamp}\n{body_hash}".encode()


class EnrolmentCodeRequest(ContractModel):
    """Admin request for a one-time enrolment code for a farm."""

    farm_id: Identifier
    ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)


class EnrolmentCode(ContractModel):
    code: str = Field(min_length=8, max_length=64)
    farm_id: Identifier
    expires_at: UtcDatetime


class EnrolRequest(ContractModel):
    """Sent by an appliance once, with the code a technician typed in."""

    code: str = Field(min_length=8, max_length=64)
    name: str = Field(min_length=1, max_length=100, description="Appliance host name.")
    public_key: str = Field(
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="The appliance's Ed25519 public key (32 raw bytes, standard base64).",
    )


class EnrolResponse(ContractModel):
    appliance_id: Identifier
    farm_id: Identifier
    key_fingerprint: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the raw public key central stored for the appliance.",
    )


class SyncBatchRequest(ContractModel):
    """A batch of outbox events, in `seq` order.

    Events are carried as JSON objects and validated one by one on central, so one
    malformed event is rejected alone instead of failing the whole batch.
    """

    batch_id: UUID
    appliance_id: Identifier
    events: list[dict[str, JsonValue]] = Field(min_length=1, max_length=MAX_BATCH)


class RejectedEvent(ContractModel):
    id: str = Field(description="The event id as sent (may be malformed).")
    reason: str


class SyncBatchResponse(ContractModel):
    """Central's answer: every event id sent is in exactly one of the three lists."""

    batch_id: UUID
    accepted: list[UUID] = Field(description="Stored now.")
    duplicates: list[UUID] = Field(description="Already stored before; safe to drop.")
    rejected: list[RejectedEvent] = Field(description="Will never be accepted as sent.")
