"""Errors of device management; the HTTP edge maps them to replies."""

from __future__ import annotations

from appliance.errors import ApplianceError


class DeviceError(ApplianceError):
    """Base of the device management errors."""


class DeviceExistsError(DeviceError):
    """A device with this id is already provisioned."""


class UnknownDeviceError(DeviceError):
    """No device with this id is provisioned."""
