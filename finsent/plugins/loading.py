"""Plugin loading and the backend registry.

Three sources of plugins, one code path (`_load_and_register`):
  1. built-ins (`DEFAULT_PLUGINS`, modules under plugins/), registered through the same hook as the others;
  2. third-party packages exposing the entry-point group ``finsent``, loaded one by one so a broken one is
     reported and skipped (pluggy's `load_setuptools_entrypoints` would abort on the first failure);
  3. loose ``.py`` files in ``FINSENT_PLUGINS_DIR``.
``FINSENT_LOAD_PLUGINS`` (Settings.load_plugins) restricts which load. A plugin that fails to import, uses a
misspelt hook, raises in its hook or registers a duplicate backend name is reported in `problems` and
skipped; it never takes the app down. "Raises" means any BaseException (``sys.exit()`` included) except
KeyboardInterrupt, which still stops finsent. Third-party plugins are imported in a daemon thread with a
time limit (``FINSENT_PLUGIN_IMPORT_TIMEOUT``), so one that hangs at import is reported and skipped too.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from finsent.contract import hookspecs
from finsent.settings import Settings

ENTRY_POINT_GROUP = "finsent"
DEFAULT_PLUGINS: tuple[str, ...] = ("finsent_local", "finsent_mock", "finsent_openai", "finsent_transformers")
#: module-name prefix for files loaded from FINSENT_PLUGINS_DIR (keeps them apart from real packages)
PLUGINS_DIR_PACKAGE = "finsent_plugins_dir"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "builtin" | "entrypoint" | "plugins_dir" | "registered"
    origin: str  # module name, entry point value or file path


def _one_line(text: str) -> str:
    """Problems are printed one per line (CLI warnings, dashboard notices): a multi-line message is joined."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def describe_failure(exc: BaseException) -> str:
    """What a plugin did, for a one-line problem report: "called sys.exit(3)", "RuntimeError: boom"."""
    try:
        if isinstance(exc, SystemExit):
            return f"called sys.exit({'' if exc.code is None else repr(exc.code)})"
        text = _one_line(str(exc))
    except Exception:  # the plugin's own exception class cannot even be printed
        text = "(message could not be read)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _PluginImport:
    """One third-party plugin import running in a daemon thread, so that a hang cannot block finsent."""

    def __init__(self, loader: Callable[[], object], thread_name: str) -> None:
        self._loader = loader
        self.plugin: object = None
        self.error: BaseException | None = None
        #: some caller gave up waiting for it: later callers do not wait again
        self.stalled = False
        self.thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def _run(self) -> None:
        try:
            self.plugin = self._loader()
        except BaseException as exc:  # handed to the waiting thread, which decides what to do with it
            self.error = exc

    def wait(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()


# Imports that have not finished yet, by what they import (entry point or file path), for the whole
# process: a module stuck mid-import holds its module lock, so importing it again would wait on that lock
# (in the main thread: for ever). A new plugin manager finds the stalled import here and starts no other.
_imports: dict[str, _PluginImport] = {}
_imports_lock = threading.Lock()


class _ImportTimedOut(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _time_limited(key: str, loader: Callable[[], object], seconds: float) -> Callable[[], object]:
    """`loader` for a third-party plugin: run in a daemon thread and given up on after `seconds`.

    `key` names what is imported ("entry point x", "file /path/x.py"): one import of it at a time per process.
    """
    return functools.partial(_import_with_time_limit, key, loader, seconds)


def _import_with_time_limit(key: str, loader: Callable[[], object], seconds: float) -> object:
    with _imports_lock:
        job = _imports.get(key)
        if job is None:
            job = _imports[key] = _PluginImport(loader, f"finsent-plugin-import:{key}")
            job.thread.start()
    if not job.wait(0 if job.stalled else seconds):
        job.stalled = True
        raise _ImportTimedOut(seconds)
    with _imports_lock:
        if _imports.get(key) is job:
            del _imports[key]  # finished (possibly late): the next load imports it the ordinary way
    if job.error is not None:
        raise job.error
    return job.plugin


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
    if pm.has_plugin(name):
        pm.problems.append(f"plugin {name!r} ({origin}) skipped: a plugin with that name is already loaded")
        return False
    if pm.is_blocked(name):
        pm.problems.append(
            f"plugin {name!r} ({origin}) skipped: a plugin with that name did not finish importing"
        )
        return False
    try:
        plugin = loader()
    except KeyboardInterrupt:
        raise
    except _ImportTimedOut as exc:
        pm.set_blocked(name)  # never registered under this name by this manager, whatever comes later
        pm.problems.append(
            f"plugin {name!r} ({origin}) did not finish importing within {exc.seconds:g} s; skipped"
        )
        return False
    except SystemExit as exc:
        pm.problems.append(f"plugin {name!r} ({origin}) {describe_failure(exc)} while loading; skipped")
        return False
    except BaseException as exc:  # any import-time error of a plugin is the plugin's problem, not ours
        pm.problems.append(f"plugin {name!r} ({origin}) failed to load: {describe_failure(exc)}")
        return False
    try:
        pm.register(plugin, name=name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # pluggy.PluginValidationError (bad hook signature), a module __getattr__...
        if pm.has_plugin(name):  # pluggy keeps the name (and any hook already added) when a later one fails
            pm.unregister(name=name)
        reason = _one_line(str(exc)) if isinstance(exc, Exception) else describe_failure(exc)
        pm.problems.append(f"plugin {name!r} ({origin}) was rejected: {reason}")
        return False
    try:
        # A misspelt hook (e.g. `register_backend`) would otherwise be silently ignored.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        pm.unregister(name=name)
        pm.problems.append(f"plugin {name!r} ({origin}) was rejected: {_one_line(str(exc))}")
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
            _load_and_register(
                pm,
                ep.name,
                "entrypoint",
                f"entry point {ep.value}",
                _time_limited(f"entry point {ep.value}", ep.load, settings.plugin_import_timeout),
            )


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
            _load_and_register(
                pm,
                path.stem,
                "plugins_dir",
                str(path),
                _time_limited(
                    f"file {path.resolve()}",
                    functools.partial(_import_file, path),
                    settings.plugin_import_timeout,
                ),
            )


def get_plugin_manager(settings: Settings | None = None) -> FinsentPluginManager:
    """A fresh plugin manager with every wanted plugin loaded; problems are in `pm.problems`."""
    settings = settings or Settings.from_env()
    pm = FinsentPluginManager()
    pm.add_hookspecs(hookspecs)
    _load_builtins(pm, settings)
    _load_entry_points(pm, settings)
    _load_plugins_dir(pm, settings)
    return pm
