"""Masks this program did not write (a VOC devkit's, another tool's): read without loss, backed up once.

Reading (issue 15, item 7): each instance of SegmentationObject becomes an object (its class the majority
of its class pixels, models.fileio.voc_instances); class pixels that no instance covers become one object
per class (a class-only region, so the class PNG is written back as it was); 255 in either PNG becomes
the void layer (annotator.void_layer), written back as 255 in both. What cannot survive: an instance whose
pixels carry several classes gets its majority class, and instance numbers are renumbered 1, 2, … in
their order.

Writing: the first save over such a file first keeps it as `<name>.orig-<time>[-n]` beside it (a hard link,
or a copy), so the original is never lost even when the round trip above changes it.
"""
from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from annotator.void_layer import VOID
from models import fileio

BACKUP_TAG = "orig"


def read_regions(inst: np.ndarray | None, cls: np.ndarray | None) -> list[tuple[int, np.ndarray]]:
    """(class index, bool mask) of each object of foreign VOC PNGs: the instances in id order, then the
    class pixels without an instance, one object per class."""
    out: list[tuple[int, np.ndarray]] = []
    if inst is not None:
        out += [(c, m) for _, m, c in fileio.voc_instances(inst, cls, VOID)]
    if cls is not None:
        free = cls if inst is None else np.where(inst == 0, cls, 0)
        for k in np.unique(free):
            if k not in (0, VOID):
                out.append((int(k), free == k))
    return out


def changed_elsewhere(png: Path, sidecar: Path) -> bool:
    """True when `png` was written after `sidecar` (this program writes the sidecar first, then the PNGs:
    a PNG that disagrees with its sidecar and is newer was not written by this program; an older one is
    left over from a save cut short)."""
    try:
        return png.stat().st_mtime_ns > sidecar.stat().st_mtime_ns
    except OSError:
        return False


def keep_original(path: str | os.PathLike) -> Path:
    """Keep `path` as a new file `<name>.orig-<time>[-n]` beside it (hard link, or a copy) and return it."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = fileio.short_name(path.name, fileio.NAME_MAX - len(BACKUP_TAG) - 32)
    for n in itertools.count(1):
        dst = path.with_name(f"{base}.{BACKUP_TAG}-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            os.link(path, dst)
            return dst
        except FileExistsError:
            continue
        except OSError:
            pass
        try:  # no hard links here: reserve the name, then copy
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        try:
            shutil.copyfile(path, dst)
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        return dst
    raise AssertionError("unreachable")


def keep_originals(paths: Sequence[Path]) -> list[Path]:
    """keep_original of each of `paths` that still exists (OSError passes: the save must not go on)."""
    return [keep_original(p) for p in paths if os.path.lexists(p)]


def backup_note(kept: Sequence[Path], out_dir: Path) -> str:
    """The status bar's line about the originals kept by a save ('' when none)."""
    if not kept:
        return ""
    names = ", ".join(_rel(p, out_dir) for p in kept)
    return f"; the masks another program wrote are kept as {names}"


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)
