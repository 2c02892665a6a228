"""finsent-hello-backend: a keyword-count classifier, as an example of a third-party finsent backend."""

from __future__ import annotations

from finsent.contract import hookimpl
from finsent_hello.backend import HelloBackend

__all__ = ["HelloBackend", "register_backends"]


@hookimpl
def register_backends(register):  # type: ignore[no-untyped-def]
    register(HelloBackend)
