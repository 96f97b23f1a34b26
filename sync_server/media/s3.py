"""An S3-compatible object store (AWS S3, MinIO): URLs pre-signed by the S3 client.

boto3 is a blocking library, so every call runs in a thread. Uploads carry the file's
SHA-256 as `x-amz-checksum-sha256` (S3 verifies the body against it and returns it from
HEAD) and as `x-amz-meta-sha256`; both are signed headers, so a client cannot change them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sync_server.media.errors import ObjectStoreError
from sync_server.media.settings import S3StoreSettings
from sync_server.media.store import ObjectInfo, ObjectStore, PresignedRequest, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class S3ObjectStore(ObjectStore):
    def __init__(self, settings: S3StoreSettings, *, max_object_bytes: int) -> None:
        super().__init__(max_object_bytes=max_object_bytes)
        self.settings = settings
        self.bucket = settings.bucket
        self._client = _client(settings)

    async def start(self) -> None:
        if self.settings.create_bucket:
            await self._call("create bucket", self._ensure_bucket)

    async def close(self) -> None:
        self._client.close()

    def _ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            if _code(err) not in _MISSING:
                raise
            self._client.create_bucket(Bucket=self.bucket)

    async def _presign_upload(
        self,
        key: str,
        *,
        size: int,
        sha256: str,
        content_type: str,
        expires_in: timedelta,
        base_url: str,
    ) -> PresignedRequest:
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        params = {
            "Bucket": self.bucket,
            "Key": check_key(key),
            "ContentType": content_type,
            "ContentLength": size,
            "ChecksumSHA256": checksum,
            "Metadata": {"sha256": sha256},
        }
        headers = {
            "Content-Type": content_type,
            "x-amz-checksum-sha256": checksum,
            "x-amz-meta-sha256": sha256,
        }
        return await self._presign("put_object", "PUT", params, expires_in, headers)

    async def presign_download(
        self, key: str, *, expires_in: timedelta, base_url: str
    ) -> PresignedRequest:
        params = {"Bucket": self.bucket, "Key": check_key(key)}
        return await self._presign("get_object", "GET", params, expires_in, {})

    async def _presign(
        self,
        operation: str,
        method: str,
        params: dict[str, Any],
        expires_in: timedelta,
        headers: dict[str, str],
    ) -> PresignedRequest:
        seconds = int(expires_in.total_seconds())
        expires_at = datetime.now(UTC) + timedelta(seconds=seconds)
        url = await self._call(
            "presign",
            self._client.generate_presigned_url,
            operation,
            Params=params,
            ExpiresIn=seconds,
            HttpMethod=method,
        )
        return PresignedRequest(str(url), method, expires_at, headers)

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = await asyncio.to_thread(
                self._client.head_object,
                Bucket=self.bucket,
                Key=check_key(key),
                ChecksumMode="ENABLED",
            )
        except ClientError as err:
            if _code(err) in _MISSING:
                return None
            raise ObjectStoreError(f"S3 head {key}: {err}") from err
        except BotoCoreError as err:
            raise ObjectStoreError(f"S3 head {key}: {err}") from err
        return ObjectInfo(int(head["ContentLength"]), _sha256_hex(head.get("ChecksumSHA256")))

    async def delete(self, key: str) -> None:
        await self._call(
            "delete", self._client.delete_object, Bucket=self.bucket, Key=check_key(key)
        )

    async def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except (BotoCoreError, ClientError) as err:
            raise ObjectStoreError(f"S3 {what} failed: {err}") from err


def _client(settings: S3StoreSettings) -> S3Client:
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        # Only the checksum we sign ourselves: no SDK-computed checksums in presigned URLs.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 3, "mode": "standard"},
    )
    keys = settings.access_key_id, settings.secret_access_key
    return boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=keys[0].get_secret_value() if keys[0] else None,
        aws_secret_access_key=keys[1].get_secret_value() if keys[1] else None,
        config=config,
    )


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _sha256_hex(checksum: str | None) -> str | None:
    """S3 reports the checksum as base64 (of a whole-object upload); None if absent or odd."""
    if not checksum or "-" in checksum:
        return None
    try:
        raw = base64.b64decode(checksum, validate=True)
    except binascii.Error:
        return None
    return raw.hex() if len(raw) == 32 else None
