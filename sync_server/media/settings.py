"""Settings of the object store: a local directory (embedded default) or an S3 bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalStoreSettings(_Section):
    """Files under a directory, served by central through HMAC-signed URLs."""

    directory: Path = Field(
        default=Path("byre-media"), description="Where objects are stored (created if missing)."
    )
    url_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of the signed URLs (secret); unset: a random key per process, so "
        "URLs die with a restart and replicas cannot share them.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+(/[^?#]*)?$",
        description="Base URL clients reach central at; unset: taken from each request.",
    )


class S3StoreSettings(_Section):
    """Any S3-compatible store (AWS S3, MinIO); URLs are pre-signed by the S3 client."""

    endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="S3 endpoint; unset: AWS's endpoint for the region.",
    )
    bucket: str = Field(
        default="byre-media",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Bucket holding the media.",
    )
    region: str = Field(default="us-east-1", min_length=1, description="Region of the bucket.")
    access_key_id: SecretStr | None = Field(
        default=None, description="Access key id (secret); unset: the default AWS credential chain."
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key (secret)."
    )
    addressing_style: Literal["path", "virtual", "auto"] = Field(
        default="auto", description="`path` for MinIO and other stores without bucket DNS."
    )
    create_bucket: bool = Field(
        default=False, description="Create the bucket at startup when it does not exist."
    )

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> S3StoreSettings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both access_key_id and secret_access_key, or neither")
        return self


class MediaSettings(_Section):
    """Where media objects live and how long their signed URLs are valid."""

    backend: Literal["local", "s3"] = Field(default="local", description="Which object store.")
    local: LocalStoreSettings = Field(
        default_factory=LocalStoreSettings, description="The local directory store."
    )
    s3: S3StoreSettings = Field(default_factory=S3StoreSettings, description="The S3 store.")
    upload_url_ttl_s: int = Field(
        default=900, ge=10, le=7 * 86_400, description="Lifetime of a pre-signed upload URL."
    )
    download_url_ttl_s: int = Field(
        default=3600, ge=10, le=7 * 86_400, description="Lifetime of a pre-signed download URL."
    )
    max_object_bytes: int = Field(
        default=512 * 1024**2, ge=1, description="Largest clip or snapshot central accepts."
    )
