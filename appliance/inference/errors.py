"""Errors of the model runner; a camera pipeline catches `InferenceError` and skips the frame."""

from __future__ import annotations

from appliance.errors import ApplianceError


class InferenceError(ApplianceError):
    """Base of every runner error."""


class RunnerUnavailable(InferenceError):
    """The plugin's worker is not serving: starting, restarting, or it died under the request."""


class DeadlineExceeded(InferenceError):
    """The request's deadline passed before a result came back (or the worker dropped it)."""


class PluginQuarantined(RunnerUnavailable):
    """The plugin crashed too often and is no longer started; the reason says why."""


class PluginRefused(RunnerUnavailable):
    """The plugin's config is invalid or its load failed; it is not restarted."""


class UnknownPlugin(InferenceError):
    """No configured plugin has that name."""


class InvalidFrame(InferenceError):
    """The frame is not a uint8 H x W x 3 array."""


class InferFailed(InferenceError):
    """The plugin raised an exception (or returned garbage) for this frame; the worker lives on."""


class ProtocolError(InferenceError):
    """A malformed message on the runner socket."""
