"""Frames on a pipe between a process and the child it forked: an 8-byte length, then that many bytes."""

from __future__ import annotations

from typing import BinaryIO


def frame(data: bytes) -> bytes:
    """`data` as one frame."""
    return len(data).to_bytes(8, "little") + data


def put_frame(pipe: BinaryIO, data: bytes) -> None:
    pipe.write(len(data).to_bytes(8, "little"))
    pipe.write(data)


def take_frame(pipe: BinaryIO) -> bytes:
    """The next frame; EOFError when the other process stopped before sending all of it."""
    size = pipe.read(8)
    data = pipe.read(int.from_bytes(size, "little")) if len(size) == 8 else b""
    if len(size) != 8 or len(data) != int.from_bytes(size, "little"):
        raise EOFError("the child stopped mid-way")
    return data


def split_frames(data: bytes) -> list[bytes]:
    """The frames `data` is made of, in order."""
    out, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 8], "little")
        out.append(data[at + 8 : at + 8 + size])
        at += 8 + size
    return out
