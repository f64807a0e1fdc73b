"""`ifcn info`: versions, the device inference would use, and the models found."""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from models.backbones import BACKBONES
from models.device import available_devices, resolve_device
from models.errors import IFCNError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ifcn info [--models DIR ...]`."""
    parser.add_argument("--models", nargs="*", type=Path, default=[],
                        help="checkpoints (*.pt) or folders to search for them, besides the shipped default")


def find_checkpoints(paths: list[Path]) -> list[Path]:
    """The shipped default model plus the checkpoint files named in `paths` and the *.pt files in its folders
    (a path that is neither is listed too: the report says it was not found)."""
    from models.predictor import default_checkpoint
    found = [default_checkpoint()] if default_checkpoint().is_file() else []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.pt") if p.is_file())
        else:
            found.append(path)
    return found


def run(args: argparse.Namespace) -> int:
    """Print the report."""
    import cv2
    import numpy
    import torch
    import torchvision

    from models.checkpoint import read_meta

    print(f"ifcn-annotator on Python {platform.python_version()} ({sys.platform})")
    print(f"  torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"opencv {cv2.__version__}, numpy {numpy.__version__}")
    try:
        import PyQt5.QtCore as qc
        print(f"  PyQt5 {qc.PYQT_VERSION_STR} (Qt {qc.QT_VERSION_STR})")
    except ImportError:
        print("  PyQt5 not installed")
    print(f"device: {resolve_device('auto')} (available: {', '.join(available_devices())})")
    print(f"backbones: {', '.join(BACKBONES)}")
    models = find_checkpoints(list(args.models))
    if not models:
        print("models: none found — the annotator uses the classical GrabCut-from-clicks fallback")
    for path in models:
        if not path.is_file():
            print(f"model: {path} — not found")
            continue
        try:
            meta = read_meta(path)
            spec = meta.get("spec", {})
            parts = [f"{k} {meta[k]:.3g}" for k in ("val_iou", "noc@85", "noc@90")
                     if isinstance(meta.get(k), (int, float))]
            refined = meta.get("grabcut_noc@90")
            if isinstance(meta.get("noc@90"), (int, float)) and isinstance(refined, (int, float)):
                # `ifcn export --noc` stores f-BRS alone (the last part), `--noc-refined` the annotator's pipeline
                parts[-1] += f" with f-BRS alone, {refined:.3g} as the annotator runs it"
            extras = ", ".join(parts)
            print(f"model: {path} — {spec.get('backbone')} FCN-{spec.get('stride')}s"
                  + (f" ({extras})" if extras else ""))
        except IFCNError as e:
            print(f"model: {path} — unusable: {e}")
    return 0
