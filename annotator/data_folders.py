"""Where the annotator's own products go by default: training runs and NoC results live in the per-user
data folder (annotator.samples.data_dir), one subfolder per annotated folder, never inside the image or
output folder (which may be tracked, shared or read-only)."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from annotator.samples import data_dir

RUNS, NOC_RESULTS = "runs", "noc-results"
LEGACY_RUNS_DIRNAME = "training-runs"  # where runs went before: <output folder>/training-runs


def folder_slug(folder: str | os.PathLike) -> str:
    """A subfolder name for `folder`: its name plus a hash of its full path (two `images/` never collide)."""
    p = Path(folder).expanduser().resolve()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", p.name or "root")[:40]
    return f"{name}-{hashlib.sha1(str(p).encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def runs_root(output_dir: str | os.PathLike | None) -> Path:
    """Default folder for the training runs of annotations in `output_dir`:
    <data dir>/runs/<folder>-<hash> (just <data dir>/runs with no folder open)."""
    base = data_dir() / RUNS
    return base / folder_slug(output_dir) if output_dir is not None else base


def noc_results_root(output_dir: str | os.PathLike | None) -> Path:
    """Default parent of NoC benchmark results for `output_dir`: <data dir>/noc-results/<folder>-<hash>."""
    base = data_dir() / NOC_RESULTS
    return base / folder_slug(output_dir) if output_dir is not None else base


def run_dirs(output_dir: str | os.PathLike | None) -> list[Path]:
    """Retraining runs (folders holding devkit/) of `output_dir`, oldest first; older runs written into
    <output folder>/training-runs are found too."""
    roots = [runs_root(output_dir)]
    if output_dir is not None:
        roots.append(Path(output_dir) / LEGACY_RUNS_DIRNAME)
    found = [d.parent for r in roots if r.is_dir() for d in r.glob("run-*/devkit")]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def checkpoint_folder(output_dir: str | os.PathLike | None) -> Path | None:
    """Where Model → Load Checkpoint… starts: this folder's runs, else all runs, else nothing."""
    for d in (runs_root(output_dir), data_dir() / RUNS):
        if d.is_dir():
            return d
    return None
