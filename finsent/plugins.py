"""Plugin loading and the backend registry.

Three sources of plugins, one code path (`_load_and_register`):
  1. built-ins (`DEFAULT_PLUGINS`, modules under plugins/), registered through the same hook as the others;
  2. third-party packages exposing the entry-point group ``finsent``, loaded one by one so a broken one is
     reported and skipped (pluggy's `load_setuptools_entrypoints` would abort on the first failure);
  3. loose ``.py`` files in ``FINSENT_PLUGINS_DIR``.
``FINSENT_LOAD_PLUGINS`` (Settings.load_plugins) restricts which load. A plugin that fails to import, uses a
misspelt hook, raises in its hook or registers a duplicate backend name is reported in `problems` and
skipped; it never takes the app down.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from finsent import hookspecs
from finsent.backend import Backend
from finsent.errors import NotFoundError
from finsent.settings import Settings

ENTRY_POINT_GROUP = "finsent"
DEFAULT_PLUGINS: tuple[str, ...] = ("finsent_local", "finsent_mock", "finsent_openai")
#: module-name prefix for files loaded from FINSENT_PLUGINS_DIR (keeps them apart from real packages)
PLUGINS_DIR_PACKAGE = "finsent_plugins_dir"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "builtin" | "entrypoint" | "plugins_dir" | "registered"
    origin: str  # module name, entry point value or file path


class FinsentPluginManager(pluggy.PluginManager):
    """A pluggy PluginManager that also remembers where each plugin came from and what went wrong."""

    def __init__(self) -> None:
        super().__init__("finsent")
        self.problems: list[str] = []
        self.loaded: list[PluginInfo] = []


def _wanted(settings: Settings, *names: str) -> bool:
    """FINSENT_LOAD_PLUGINS restricts loading; any of a plugin's names (module, entry point, file) counts."""
    if settings.load_plugins is None:
        return True
    allowed = set(settings.load_plugins)
    return any(name in allowed for name in names if name)


def _load_and_register(
    pm: FinsentPluginManager, name: str, source: str, origin: str, loader: Callable[[], object]
) -> bool:
    """Import one plugin, register it and check its hooks; on any failure report it and leave it out."""
    if pm.has_plugin(name) or pm.is_blocked(name):
        pm.problems.append(f"plugin {name!r} ({origin}) skipped: a plugin with that name is already loaded")
        return False
    try:
        plugin = loader()
    except Exception as exc:  # any import-time error of a plugin is the plugin's problem, not ours
        pm.problems.append(f"plugin {name!r} ({origin}) failed to load: {type(exc).__name__}: {exc}")
        return False
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # pluggy.PluginValidationError (bad hook signature) and the like
        pm.problems.append(f"plugin {name!r} ({origin}) was rejected: {exc}")
        return False
    try:
        # A misspelt hook (e.g. `register_backend`) would otherwise be silently ignored.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(name=name)
        pm.problems.append(f"plugin {name!r} ({origin}) was rejected: {exc}")
        return False
    pm.loaded.append(PluginInfo(name=name, source=source, origin=origin))
    return True


def _load_builtins(pm: FinsentPluginManager, settings: Settings) -> None:
    for module_name in DEFAULT_PLUGINS:
        if _wanted(settings, module_name, module_name.removeprefix("finsent_")):
            _load_and_register(
                pm,
                module_name,
                "builtin",
                module_name,
                functools.partial(importlib.import_module, module_name),
            )


def _load_entry_points(pm: FinsentPluginManager, settings: Settings) -> None:
    try:
        entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # broken metadata of some unrelated distribution
        pm.problems.append(f"could not list installed plugins: {exc}")
        return
    seen: set[str] = set()
    for ep in entry_points:
        if ep.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ep.name)
        module_name = ep.value.split(":", 1)[0]
        if _wanted(settings, ep.name, module_name):
            _load_and_register(pm, ep.name, "entrypoint", f"entry point {ep.value}", ep.load)


def _import_file(path: Path) -> ModuleType:
    module_name = f"{PLUGINS_DIR_PACKAGE}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before exec so dataclasses/pydantic inside the file can resolve their own module.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _load_plugins_dir(pm: FinsentPluginManager, settings: Settings) -> None:
    directory = settings.plugins_dir
    if directory is None:
        return
    if not directory.is_dir():
        pm.problems.append(f"FINSENT_PLUGINS_DIR {directory} is not a folder")
        return
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        if _wanted(settings, path.stem, path.name):
            _load_and_register(pm, path.stem, "plugins_dir", str(path), functools.partial(_import_file, path))


def get_plugin_manager(settings: Settings | None = None) -> FinsentPluginManager:
    """A fresh plugin manager with every wanted plugin loaded; problems are in `pm.problems`."""
    settings = settings or Settings.from_env()
    pm = FinsentPluginManager()
    pm.add_hookspecs(hookspecs)
    _load_builtins(pm, settings)
    _load_entry_points(pm, settings)
    _load_plugins_dir(pm, settings)
    return pm


@dataclass
class BackendRegistry:
    """Backend name -> class, collected through the `register_backends` hook."""

    backends: dict[str, type[Backend]] = field(default_factory=dict)
    #: backend name -> the plugin that provided it
    providers: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_plugin_manager(cls, pm: pluggy.PluginManager) -> BackendRegistry:
        registry = cls(problems=list(getattr(pm, "problems", [])))
        # Each plugin's hook is called on its own (in registration order, built-ins first) so that one
        # plugin raising loses only its own backends, and duplicates are attributed to the right plugin.
        for impl in pm.hook.register_backends.get_hookimpls():
            registry._call_register_hook(impl.plugin_name, impl.function, impl.argnames)
        return registry

    def _call_register_hook(
        self, plugin_name: str, function: Callable[..., Any], argnames: Iterable[str]
    ) -> None:
        def register(backend_class: object) -> None:
            self.add(backend_class, plugin_name)

        available = {"register": register}
        try:
            function(**{name: available[name] for name in argnames})
        except Exception as exc:
            self.problems.append(
                f"plugin {plugin_name!r} failed in register_backends: {type(exc).__name__}: {exc}"
            )

    def add(self, backend_class: object, plugin_name: str = "registered") -> bool:
        if not (inspect.isclass(backend_class) and issubclass(backend_class, Backend)):
            self.problems.append(
                f"plugin {plugin_name!r} registered {backend_class!r}, which is not a Backend class"
            )
            return False
        if inspect.isabstract(backend_class):
            missing = ", ".join(sorted(getattr(backend_class, "__abstractmethods__", ())))
            self.problems.append(
                f"plugin {plugin_name!r}: backend class {backend_class.__name__} does not implement {missing}"
            )
            return False
        name = getattr(backend_class, "name", None)
        if not isinstance(name, str) or not name.strip():
            self.problems.append(
                f"plugin {plugin_name!r}: backend class {backend_class.__name__} has no name"
            )
            return False
        if name in self.backends:
            self.problems.append(
                f"plugin {plugin_name!r} registers a backend named {name!r}, already provided by "
                f"{self.providers[name]!r}; the duplicate is skipped"
            )
            return False
        self.backends[name] = backend_class
        self.providers[name] = plugin_name
        return True

    def names(self) -> list[str]:
        return list(self.backends)

    def get(self, name: str) -> type[Backend]:
        try:
            return self.backends[name]
        except KeyError:
            known = ", ".join(self.backends) or "none"
            raise NotFoundError(
                f"Unknown backend {name!r} (registered: {known}).",
                hint="Run `finsent backends` to see them and why a plugin may have failed to load.",
                ko=f"알 수 없는 백엔드입니다: {name!r} (등록된 백엔드: {known}).",
                hint_ko="`finsent backends`로 목록과 플러그인 오류를 확인하세요.",
            ) from None


def load_backends(settings: Settings | None = None) -> BackendRegistry:
    """Plugin manager + registry in one call (what the service does at start)."""
    return BackendRegistry.from_plugin_manager(get_plugin_manager(settings))
