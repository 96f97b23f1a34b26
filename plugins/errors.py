"""Errors of plugins and model bundles."""

from __future__ import annotations


class PluginError(Exception):
    """A plugin could not be found, configured or loaded."""


class BundleError(PluginError):
    """A model bundle is invalid: bad manifest, missing or corrupt file, wrong hash."""
