"""Backend instances for the service: built once per (backend, key), described for the UI and CLI.

Keys are resolved per call (the UI's key field, else the backend's environment variable) and kept only in
memory, inside the backend's context; the cache is keyed by a hash of the key, never the key itself.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from finsent.contract.backend import Availability, Backend, BackendContext, BaseModelInfo
from finsent.contract.errors import BackendUnavailableError, FinsentError
from finsent.contract.texts import Text
from finsent.plugins.loading import describe_failure
from finsent.plugins.registry import BackendRegistry
from finsent.settings import Settings

#: backend instances kept per (name, key hash); older ones are closed
BACKEND_CACHE_SIZE = 16


@dataclass(frozen=True)
class BackendInfo:
    """What the shells show of a backend; its texts in both languages (`text.get(lang)`)."""

    name: str
    label: Text
    description: Text
    needs_key: bool
    key_env_var: str | None
    capabilities: tuple[str, ...]
    available: bool
    reason: Text | None
    #: the backend's Options as a pydantic JSON schema (forms and flags are generated from it)
    options_schema: Mapping[str, Any]
    base_models: tuple[BaseModelInfo, ...]
    #: the plugin that registered it
    plugin: str = ""


class BackendPool:
    def __init__(self, settings: Settings, registry: BackendRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self._lock = threading.Lock()
        self._backends: OrderedDict[tuple[str, str], Backend] = OrderedDict()
        # pydantic builds a JSON schema anew on every call (~2 ms per backend); the dashboard lists the
        # backends several times per rerun and the Options classes never change, so build each once.
        self._schemas: dict[type[Backend], Mapping[str, Any]] = {}

    def close(self) -> None:
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._backends.clear()

    def _resolve_key(self, backend_class: type[Backend], api_key: str | None) -> str | None:
        if api_key:
            return api_key
        return os.environ.get(backend_class.key_env_var) if backend_class.key_env_var else None

    def backend(self, name: str, api_key: str | None = None) -> Backend:
        """The backend instance (built once per key); raises NotFoundError for an unknown name and
        BackendUnavailableError when the plugin's class cannot be built (it raised, or called sys.exit)."""
        try:
            return self._instance(name, api_key)
        except (KeyboardInterrupt, FinsentError):
            raise
        except BaseException as exc:
            label = self.registry.get(name).label
            raise BackendUnavailableError(
                Text(
                    f"The {label} backend could not be started: {describe_failure(exc)}.",
                    f"{label} 백엔드를 시작할 수 없습니다: {describe_failure(exc)}.",
                )
            ) from exc

    def _instance(self, name: str, api_key: str | None) -> Backend:
        backend_class = self.registry.get(name)
        key = self._resolve_key(backend_class, api_key)
        cache_key = (name, hashlib.sha256(key.encode()).hexdigest() if key else "")
        with self._lock:
            instance = self._backends.get(cache_key)
            if instance is None:
                instance = backend_class(BackendContext(settings=self.settings, api_key=key))
                self._backends[cache_key] = instance
                while len(self._backends) > BACKEND_CACHE_SIZE:
                    _, old = self._backends.popitem(last=False)
                    old.close()
            else:
                self._backends.move_to_end(cache_key)
            return instance

    def usable_backend(self, name: str, api_key: str | None = None) -> Backend:
        """The backend, or BackendUnavailableError saying why it cannot be used (e.g. missing key)."""
        instance = self.backend(name, api_key)
        availability = self._availability(instance)
        if not availability.ok:
            hint = (
                Text(
                    f"Set {instance.key_env_var} or pass a key.",
                    f"{instance.key_env_var} 환경 변수를 설정하거나 키를 입력하세요.",
                )
                if instance.needs_key and instance.key_env_var
                else None
            )
            reason = Text.of(availability.reason or "")
            raise BackendUnavailableError(
                Text(
                    f"The {instance.label} backend cannot be used: {reason.en}.",
                    f"{instance.label_text().get('ko')} 백엔드를 사용할 수 없습니다: {reason.get('ko')}.",
                ),
                hint=hint,
            )
        return instance

    @staticmethod
    def _availability(instance: Backend) -> Availability:
        try:
            return instance.availability()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # plugin code: even sys.exit() only makes the backend unavailable
            return Availability(False, describe_failure(exc))

    def _options_schema(self, backend_class: type[Backend]) -> Mapping[str, Any]:
        schema = self._schemas.get(backend_class)
        if schema is None:
            try:
                built = backend_class.Options.model_json_schema()
            except KeyboardInterrupt:
                raise
            except BaseException:
                built = {}
            # read-only: every BackendInfo shares this one mapping
            schema = self._schemas[backend_class] = MappingProxyType(built)
        return schema

    def backends(self, api_keys: dict[str, str] | None = None) -> list[BackendInfo]:
        """Every registered backend with availability; plugin load problems in `plugin_problems()`."""
        infos = []
        for name, backend_class in self.registry.backends.items():
            try:
                instance = self._instance(name, (api_keys or {}).get(name))
                availability = self._availability(instance)
                models = tuple(instance.base_models())
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a plugin that cannot even be built is shown as unavailable
                availability, models = Availability(False, describe_failure(exc)), ()
            infos.append(
                BackendInfo(
                    name=name,
                    label=Text.of(getattr(backend_class, "label", name)),
                    description=Text.of(getattr(backend_class, "description", "")),
                    needs_key=backend_class.needs_key,
                    key_env_var=backend_class.key_env_var,
                    capabilities=tuple(sorted(c.value for c in backend_class.capabilities)),
                    available=availability.ok,
                    reason=Text.of(availability.reason) if availability.reason else None,
                    options_schema=self._options_schema(backend_class),
                    base_models=models,
                    plugin=self.registry.providers.get(name, ""),
                )
            )
        return infos
