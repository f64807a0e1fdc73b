"""The sample photos as a folder of the user's own (`ifcn annotate --samples`, used by `make run`).

Annotating writes SegmentationClass/, SegmentationObject/ and annotations/ next to the images, so the bundled
photos in `resources/samples/` (tracked, perhaps read-only) are copied once into the user's data folder and
annotated there. Later calls add photos that are missing and never overwrite what is there.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from models.fileio import IMAGE_SUFFIXES


def data_dir() -> Path:
    """The annotator's per-user data folder: $IFCN_DATA_DIR, else $XDG_DATA_HOME (~/.local/share)/ifcn-annotator."""
    if os.environ.get("IFCN_DATA_DIR"):
        return Path(os.environ["IFCN_DATA_DIR"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "ifcn-annotator"


def samples_workspace(source: Path | None = None, base: Path | None = None) -> Path:
    """A writable copy of the sample photos (and their SOURCES.md); returns its folder."""
    from resources import SAMPLES

    source = Path(source or SAMPLES)
    dest = Path(base or data_dir()) / "samples"
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(source.iterdir()):
        if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() == ".md"):
            target = dest / p.name
            if not target.exists():
                tmp = dest / f".{p.name}.copying"
                shutil.copyfile(p, tmp)
                os.replace(tmp, target)
    return dest
