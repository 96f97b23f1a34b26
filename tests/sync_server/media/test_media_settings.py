"""Central's media settings: defaults, the S3 section, and clear errors."""

from __future__ import annotations

import pytest

from sync_server.errors import SettingsError
from sync_server.media.factory import make_object_store
from sync_server.media.local import LocalObjectStore
from sync_server.media.s3 import S3ObjectStore
from sync_server.settings import load_settings


def test_local_store_is_the_default() -> None:
    settings = load_settings(environment="development")

    assert settings.media.backend == "local"
    assert isinstance(make_object_store(settings.media), LocalObjectStore)


def test_s3_store_is_chosen_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYRE_CENTRAL_MEDIA__BACKEND", "s3")
    monkeypatch.setenv("BYRE_CENTRAL_MEDIA__S3__ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("BYRE_CENTRAL_MEDIA__S3__BUCKET", "farm-media")

    settings = load_settings(environment="development")

    assert (settings.media.s3.endpoint_url, settings.media.s3.bucket) == (
        "http://127.0.0.1:9000",
        "farm-media",
    )
    assert isinstance(make_object_store(settings.media), S3ObjectStore)


@pytest.mark.parametrize(
    ("media", "message"),
    [
        pytest.param({"backend": "ftp"}, "media.backend", id="unknown-backend"),
        pytest.param({"s3": {"access_key_id": "only-one"}}, "both", id="half-a-key-pair"),
        pytest.param({"s3": {"bucket": "Not_A_Bucket"}}, "media.s3.bucket", id="bad-bucket"),
        pytest.param({"upload_url_ttl_s": 1}, "upload_url_ttl_s", id="ttl-too-short"),
        pytest.param({"local": {"dir": "/x"}}, "media.local.dir", id="unknown-key"),
    ],
)
def test_bad_media_settings_name_the_key(media: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environment="development", media=media)
