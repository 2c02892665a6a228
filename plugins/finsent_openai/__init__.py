"""finsent built-in backend "openai": fine-tune, follow and classify through the openai SDK.

Also works with Azure OpenAI and OpenAI-compatible servers (base_url), and without fine-tuning
(zero/few-shot mode with any chat model).
"""

from __future__ import annotations

from typing import Any

from finsent.contract import hookimpl

from .backend import OpenAIBackend, OpenAIOptions

__all__ = ["OpenAIBackend", "OpenAIOptions", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(OpenAIBackend)
