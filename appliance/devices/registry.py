"""Provisioned devices: who may connect to the broker, and as what kind of device."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from appliance.devices.credentials import SecretHasher, new_secret
from appliance.devices.errors import DeviceExistsError, UnknownDeviceError
from appliance.store.db import Database
from contracts.devices import DeviceType


@dataclass(frozen=True)
class Device:
    device_id: str
    device_type: DeviceType
    name: str
    created_at: datetime
    secret_set_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Device:
        return cls(
            device_id=row["device_id"],
            device_type=DeviceType(row["device_type"]),
            name=row["name"],
            created_at=datetime.fromisoformat(row["created_at"]),
            secret_set_at=datetime.fromisoformat(row["secret_set_at"]),
            revoked_at=datetime.fromisoformat(row["revoked_at"]) if row["revoked_at"] else None,
        )

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Provisioned:
    """A device and its secret; the secret is shown once and never stored in clear."""

    device: Device
    secret: str


class DeviceRegistry:
    """The devices table; also the broker's source of credential hashes."""

    def __init__(self, db: Database, hasher: SecretHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher or SecretHasher()

    async def provision(
        self, device_id: str, device_type: DeviceType, name: str = ""
    ) -> Provisioned:
        """Create a device with a new secret; raises DeviceExistsError if the id is taken."""
        secret = new_secret()
        digest = await self.hasher.hash(secret)
        now = datetime.now(UTC).isoformat()
        try:
            async with self.db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO devices (device_id, device_type, name, secret_hash, created_at,"
                    " secret_set_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (device_id, device_type.value, name, digest, now, now),
                )
                await conn.execute("INSERT INTO device_status (device_id) VALUES (?)", (device_id,))
        except sqlite3.IntegrityError as err:
            raise DeviceExistsError(f"device {device_id!r} is already provisioned") from err
        return Provisioned(await self.require(device_id), secret)

    async def rotate_secret(self, device_id: str) -> Provisioned:
        """Give a device a new secret (its old one stops working) and re-activate it."""
        secret = new_secret()
        digest = await self.hasher.hash(secret)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE devices SET secret_hash = ?, secret_set_at = ?, revoked_at = NULL"
                " WHERE device_id = ?",
                (digest, datetime.now(UTC).isoformat(), device_id),
            )
            if cursor.rowcount == 0:
                raise UnknownDeviceError(f"device {device_id!r} is not provisioned")
        return Provisioned(await self.require(device_id), secret)

    async def revoke(self, device_id: str) -> Device:
        """Stop a device from connecting; its record and history stay."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), device_id),
            )
        return await self.require(device_id)

    async def get(self, device_id: str) -> Device | None:
        row = await self.db.fetch_one("SELECT * FROM devices WHERE device_id = ?", (device_id,))
        return Device.from_row(row) if row else None

    async def require(self, device_id: str) -> Device:
        device = await self.get(device_id)
        if device is None:
            raise UnknownDeviceError(f"device {device_id!r} is not provisioned")
        return device

    async def list(self) -> list[Device]:
        rows = await self.db.fetch_all("SELECT * FROM devices ORDER BY device_id")
        return [Device.from_row(r) for r in rows]

    async def secret_hash(self, device_id: str) -> str | None:
        """The stored hash of an active device's secret; None if unknown or revoked."""
        row = await self.db.fetch_one(
            "SELECT secret_hash FROM devices WHERE device_id = ? AND revoked_at IS NULL",
            (device_id,),
        )
        return str(row["secret_hash"]) if row else None
