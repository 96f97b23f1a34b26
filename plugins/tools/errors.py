"""Errors of the build-time tools."""

from __future__ import annotations


class BuildError(Exception):
    """A model bundle could not be built; the message says which step failed and why."""
