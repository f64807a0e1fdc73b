"""Saves never overwrite what changed on disk behind the window's back (Qt-free).

At load (and after each save) the window records a fingerprint of the image's annotation files: size,
mtime and a SHA-256 of the content, or "absent". Before the next save, a file whose fingerprint differs
(another program or annotator wrote it, or created it) is reported, and the window asks before
overwriting. A file only touched (same content) or deleted is no conflict: nothing would be lost.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Fingerprint:
    """What a file was when read: None fields when it did not exist."""

    size: int | None
    mtime_ns: int | None
    sha256: str | None


ABSENT = Fingerprint(None, None, None)


def _hash(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def fingerprint(path: Path) -> Fingerprint:
    """The file's fingerprint now (ABSENT when missing or not a regular file)."""
    try:
        st = os.stat(path)
    except OSError:
        return ABSENT
    if not os.path.isfile(path):
        return ABSENT
    return Fingerprint(st.st_size, st.st_mtime_ns, _hash(path))


def snapshot(paths: Iterable[Path]) -> dict[Path, Fingerprint]:
    """Fingerprints of `paths` now."""
    return {Path(p): fingerprint(Path(p)) for p in paths}


def changed(recorded: dict[Path, Fingerprint]) -> list[Path]:
    """The recorded files that now exist with another content than when recorded."""
    out = []
    for p, fp in recorded.items():
        try:
            st = os.stat(p)
        except OSError:
            continue  # deleted: nothing to overwrite
        if fp.size == st.st_size and fp.mtime_ns == st.st_mtime_ns:
            continue  # fast path: untouched
        now = fingerprint(p)
        if now != ABSENT and now.sha256 != fp.sha256:
            out.append(p)
    return out
