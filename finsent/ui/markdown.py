"""Streamlit renders markdown in most texts: user data goes through `plain` so it shows as written.

Streamlit never renders raw HTML without unsafe_allow_html (which finsent never uses), but markdown could
still turn a cell such as `![x](http://...)` into an image fetched from elsewhere, or `**` into bold.
"""

from __future__ import annotations

import re

# The characters that open markdown (and Streamlit's :colour[...] / :icon: syntax) constructs.
_SPECIAL = re.compile(r"([\\`*_\[\]#!|<>~$])")


def plain(text: object) -> str:
    """`text` with every markdown-special character escaped, so it renders literally."""
    return _SPECIAL.sub(r"\\\1", str(text))
