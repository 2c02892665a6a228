"""finsent built-in backend "transformers": fine-tunes open Hugging Face encoders (klue/bert-base...).

Needs the extra: pip install "finsent[transformers]". Without it the backend registers all the same and
reports itself unavailable with the install command; nothing here imports torch until it is used.
"""

from __future__ import annotations

from typing import Any

from finsent.contract import hookimpl
from finsent_transformers.backend import TransformersBackend
from finsent_transformers.options import TransformersOptions

__all__ = ["TransformersBackend", "TransformersOptions", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(TransformersBackend)
