"""Qt-free helpers shared by the Training menu's dialogs (Retrain, Benchmark): what the output folder holds,
which checkpoint the annotator runs, devices, disk space and durations."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from annotator import data_folders, label_file
from models.errors import ImageReadError
from models.fileio import read_index_png

#: Folder holding the `models` package, put on a child's PYTHONPATH so `-m models.cli` always resolves.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def ifcn_command(subcommand: str, *args: str) -> list[str]:
    """The argv of `ifcn <subcommand> args...` run with this interpreter."""
    return [sys.executable, "-m", "models.cli", subcommand, *map(str, args)]


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an `ifcn` child: this one, unbuffered UTF-8 output, PROJECT_ROOT first on PYTHONPATH,
    then `extra`."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    old = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + old if old else "")
    env.update(extra or {})
    return env

# instance PNG path -> ((mtime_ns, size), finished objects): a save re-reads only the file it wrote
_COUNT_CACHE: dict[Path, tuple[tuple[int, int], int]] = {}


def objects_per_image(out_dir: str | os.PathLike | None) -> dict[str, int]:
    """Finished objects saved under the output folder, per image stem (instance PNGs; unreadable ones skipped)."""
    if out_dir is None:
        return {}
    folder = Path(out_dir) / label_file.OBJECT_DIR
    counts: dict[str, int] = {}
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        try:
            st = png.stat()
        except OSError:
            continue
        key = (st.st_mtime_ns, st.st_size)
        cached = _COUNT_CACHE.get(png)
        if cached is None or cached[0] != key:
            try:
                ids = np.unique(read_index_png(png))
            except ImageReadError:
                continue
            cached = (key, int(((ids != 0) & (ids != label_file.VOID)).sum()))
            _COUNT_CACHE[png] = cached
        counts[png.stem] = cached[1]
    return counts


def count_annotations(out_dir: str | os.PathLike | None) -> tuple[int, int]:
    """(annotated images, finished objects) saved under the output folder (instance PNGs)."""
    counts = [n for n in objects_per_image(out_dir).values() if n]
    return len(counts), sum(counts)


def window_annotation_counts(window: Any) -> tuple[int, int]:
    """(images, finished objects) the window's output folder will hold once the image on screen is saved."""
    counts = objects_per_image(getattr(window, "output_dir", None))
    state = getattr(window, "state", None)
    path = getattr(window, "current_image_path", None)
    if state is not None and path is not None and getattr(state, "dirty", False):
        counts[Path(path).stem] = len(state.objects)
    n = [v for v in counts.values() if v]
    return len(n), sum(n)


def runs_root(window: Any) -> Path:
    """Default folder for training runs: in the user's data folder, one per output folder (data_folders)."""
    return data_folders.runs_root(getattr(window, "output_dir", None))


def free_bytes(path: Path) -> int:
    """Free disk space at `path` or its nearest existing parent."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def available_devices() -> list[str]:
    """Devices usable for a child run ('cuda' only when present)."""
    try:
        from models.device import available_devices as devices
        return devices()
    except Exception:
        return ["cpu"]


def backbones() -> list[str]:
    """Backbone names a fresh training run can start from."""
    try:
        from models.backbones import BACKBONES
        return list(BACKBONES)
    except Exception:
        return ["efficientnet_lite0", "resnet18", "resnet50"]


def current_checkpoint(window: Any) -> str | None:
    """The checkpoint file of the window's predictor (None for GrabCut, fakes and in-memory models)."""
    p = getattr(window, "predictor", None)
    if p is None or getattr(p, "is_classical", False):
        return None
    path = getattr(p, "checkpoint_path", None)
    return str(path) if path and Path(path).is_file() else None


def default_checkpoint() -> Path | None:
    """The shipped default model's file, None when it is not installed."""
    from models.predictor import default_checkpoint as shipped

    path = shipped()
    return path if path.is_file() else None


def format_seconds(s: float | None) -> str:
    """'1:05:09' / '3:07' / '--'."""
    if s is None or not np.isfinite(s):
        return "--"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
