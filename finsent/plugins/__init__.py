"""Plugins: loading them (built-ins, entry points, a plugins folder; a broken or hanging one is reported
and skipped), the backend registry, and the pool of backend instances the service uses."""

from __future__ import annotations

from finsent.plugins.loading import (
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    PLUGINS_DIR_PACKAGE,
    FinsentPluginManager,
    PluginInfo,
    describe_failure,
    get_plugin_manager,
)
from finsent.plugins.registry import BackendRegistry, load_backends

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PLUGINS_DIR_PACKAGE",
    "BackendRegistry",
    "FinsentPluginManager",
    "PluginInfo",
    "describe_failure",
    "get_plugin_manager",
    "load_backends",
]
