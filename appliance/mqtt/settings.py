"""Settings of the device broker and of the appliance's MQTT client (`[mqtt]`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttTlsSettings(_Section):
    port: int = Field(
        default=8883, ge=0, le=65535, description="Port of the MQTT-over-TLS listener."
    )
    certfile: Path = Field(description="Server certificate chain (PEM).")
    keyfile: Path = Field(description="Server private key (PEM).")
    cafile: Path | None = Field(
        default=None, description="CA bundle to verify optional client certificates (PEM)."
    )


class MqttWebSocketSettings(_Section):
    port: int = Field(
        default=8083, ge=0, le=65535, description="Port of the MQTT-over-WebSocket listener."
    )
    tls: bool = Field(default=False, description="Serve WebSocket over TLS (needs [mqtt.tls]).")


class MqttSettings(_Section):
    embedded: bool = Field(
        default=True,
        description="Run the embedded amqtt broker; false uses the external broker at broker_url.",
    )
    host: str = Field(default="0.0.0.0", description="Address the embedded broker binds.")
    port: int = Field(default=1883, ge=0, le=65535, description="Port of the embedded broker.")
    root: str = Field(default="byre", description="Root of the device topic tree.")
    tls: MqttTlsSettings | None = Field(
        default=None, description="Optional TLS listener of the embedded broker."
    )
    websocket: MqttWebSocketSettings | None = Field(
        default=None, description="Optional WebSocket listener of the embedded broker."
    )
    broker_url: str | None = Field(
        default=None,
        pattern=r"^(mqtt|mqtts|ws|wss)://[^/\s]+$",
        description="External broker (mqtt://host:port, mqtts:// for TLS); used when not embedded.",
    )
    username: str | None = Field(
        default=None, description="The appliance's username at the external broker."
    )
    password: SecretStr | None = Field(
        default=None, description="The appliance's password at the external broker (secret)."
    )
    cafile: Path | None = Field(
        default=None, description="CA bundle that verifies an external broker's TLS certificate."
    )
    keepalive_s: int = Field(
        default=30, ge=5, le=3600, description="Keepalive of the appliance's own MQTT connection."
    )
    max_packet_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest MQTT packet the embedded broker reads; a larger one closes the link.",
    )
    max_queued_messages: int = Field(
        default=1000,
        ge=1,
        description="QoS 1/2 messages kept per disconnected persistent session (oldest dropped).",
    )
    session_expiry_s: int = Field(
        default=7 * 86_400, ge=60, description="Disconnected persistent sessions expire after this."
    )
    connect_timeout_s: float = Field(
        default=10.0, gt=0, description="A connection must send CONNECT within this time."
    )

    @model_validator(mode="after")
    def _external_broker_needs_url(self) -> MqttSettings:
        if not self.embedded and self.broker_url is None:
            raise ValueError("broker_url is required when embedded is false")
        return self

    @model_validator(mode="after")
    def _websocket_tls_needs_tls(self) -> MqttSettings:
        if self.websocket is not None and self.websocket.tls and self.tls is None:
            raise ValueError("websocket.tls needs the [mqtt.tls] certificate settings")
        return self
