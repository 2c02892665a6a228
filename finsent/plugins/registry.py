"""The backend registry: backend name -> class, collected through the `register_backends` hook."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from finsent.contract.backend import Backend
from finsent.contract.errors import NotFoundError
from finsent.contract.texts import Text
from finsent.plugins.loading import describe_failure, get_plugin_manager
from finsent.settings import Settings


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
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit() in a hook loses that plugin's backends, nothing more
            self.problems.append(
                f"plugin {plugin_name!r} failed in register_backends: {describe_failure(exc)}"
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
                Text(
                    f"Unknown backend {name!r} (registered: {known}).",
                    f"알 수 없는 백엔드입니다: {name!r} (등록된 백엔드: {known}).",
                ),
                hint=Text(
                    "Run `finsent backends` to see them and why a plugin may have failed to load.",
                    "`finsent backends`로 목록과 플러그인 오류를 확인하세요.",
                ),
            ) from None


def load_backends(settings: Settings | None = None) -> BackendRegistry:
    """Plugin manager + registry in one call (what the service does at start)."""
    return BackendRegistry.from_plugin_manager(get_plugin_manager(settings))
