"""Settings of clips, snapshots and media retention."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetentionSettings(BaseModel):
    """When media files are deleted (their rows and the events stay)."""

    model_config = ConfigDict(extra="forbid")

    max_age_days: float = Field(
        default=30.0, gt=0, description="Media older than this is evicted (closed incidents)."
    )
    max_media_bytes: int = Field(
        default=20 * 1024**3, ge=0, description="Evict the oldest media while files exceed this."
    )
    min_free_bytes: int = Field(
        default=1024**3, ge=0, description="Evict the oldest media while the disk has less free."
    )
    min_free_percent: float = Field(
        default=5.0, ge=0, lt=100, description="Evict while free space is below this share (%)."
    )
    interval_s: float = Field(default=300.0, gt=0, description="Seconds between retention runs.")


class MediaSettings(BaseModel):
    """Per-camera pre-event buffer, clip length and encoding, snapshots, retention."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Record clips and snapshots of incidents.")
    pre_s: float = Field(
        default=5.0, ge=0, le=60, description="Seconds of video kept before an event."
    )
    post_s: float = Field(
        default=10.0, ge=0, le=300, description="Seconds recorded after the incident's last update."
    )
    max_clip_s: float = Field(
        default=60.0, gt=0, le=600, description="Longest clip; a longer incident gets a new clip."
    )
    fps: float = Field(default=5.0, gt=0, le=30, description="Frames per second kept and recorded.")
    max_width: int = Field(
        default=1280, ge=64, le=3840, description="Frames wider than this are scaled down."
    )
    jpeg_quality: int = Field(
        default=80, ge=10, le=100, description="JPEG quality of buffered frames and snapshots."
    )
    crf: int = Field(default=28, ge=0, le=51, description="x264 quality (lower: better, larger).")
    preset: str = Field(
        default="veryfast",
        pattern=r"^(ultrafast|superfast|veryfast|faster|fast|medium)$",
        description="x264 speed preset.",
    )
    encoder_threads: int = Field(
        default=1, ge=1, le=8, description="Threads one clip encode may use."
    )
    stall_grace_s: float = Field(
        default=5.0, gt=0, description="Finish a clip this long after its end when frames stop."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="When media files are deleted."
    )

    @model_validator(mode="after")
    def _clip_holds_pre_and_post(self) -> MediaSettings:
        if self.max_clip_s < self.pre_s + self.post_s:
            raise ValueError("max_clip_s must be >= pre_s + post_s")
        return self
