"""Streamlit renders markdown in most texts: user data goes through `plain` so it shows as written.

Streamlit never renders raw HTML without unsafe_allow_html (which finsent never uses), but markdown could
still turn a cell such as `![x](http://...)` into an image fetched from elsewhere, or `**` into bold.
"""

from __future__ import annotations

import re

# The characters that open markdown (and Streamlit's :colour[...] / :icon: syntax) constructs.
_SPECIAL = re.compile(r"([\\`*_\[\]#!|<>~$])")


# A web address in a message stays a working link: escaped, its "_" became "%5C_" in the link's href.
_URL = re.compile(r"https?://[^\s<>()\[\]`*\\]+[^\s<>()\[\]`*\\.,;:!?'\"]")


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def plain(text: object) -> str:
    """`text` with every markdown-special character escaped, so it renders literally; web addresses in it
    become links whose text is escaped and whose target is the address as written."""
    value = str(text)
    parts, last = [], 0
    for match in _URL.finditer(value):
        url = match.group(0)
        parts += [_escape(value[last : match.start()]), f"[{_escape(url)}]({url})"]
        last = match.end()
    parts.append(_escape(value[last:]))
    return "".join(parts)
