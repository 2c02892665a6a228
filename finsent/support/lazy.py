"""Package facades that import on first use: `finsent.contract` and `finsent.service` name a lot, but a
command that only parses flags, or a plugin that only registers, must not pay for pandas or pydantic."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: name -> the module that defines it (a name mapped to a
    module path with a trailing ":" is that module itself). The value is kept in `namespace` once read."""

    def __getattr__(name: str) -> Any:
        try:
            origin = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = (
            importlib.import_module(origin[:-1])
            if origin.endswith(":")
            else getattr(importlib.import_module(origin), name)
        )
        namespace[name] = value
        return value

    return __getattr__
