"""The `ifcn` command: a thin launcher that hands each subcommand to the module that owns it.

Subcommand modules are imported only when chosen, so `ifcn train` never loads Qt and `ifcn annotate`
never loads training code. Each module exposes `add_arguments(parser)` and `run(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
from pathlib import Path

from models.errors import IFCNError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "annotate": ("annotator.app", "open the annotator on a folder of images"),
    "synth": ("training.synthetic", "write a small synthetic VOC-layout devkit"),
    "composites": ("training.composites", "build a VOC-layout devkit of composites from real photos"),
    "pairs": ("training.pairs", "generate simulated click pairs for a VOC split"),
    "train": ("training.train", "train an iFCN"),
    "noc": ("training.noc", "NoC benchmark (clicks to reach 85%% / 90%% IoU)"),
    "devkit": ("training.annotations", "turn the annotator's saved annotations into a VOC devkit"),
    "convert": ("training.convert", "export annotations to COCO / labelme / YOLO-seg, or import labelme / COCO"),
    "refiner-pack": ("training.refiner_pack", "the predictor's outputs along simulated clicks, to train a refiner"),
    "train-refiner": ("training.refiner_train", "train the learned refiner on `ifcn refiner-pack` states"),
    "export": ("training.export", "make a shippable model file from a training checkpoint"),
    "average": ("training.average", "one checkpoint whose weights are the mean of several (a model soup)"),
    "compare": ("training.noc_compare", "two NoC runs of the same objects compared object by object (paired)"),
    "info": ("models.info", "versions, device and the models found"),
}


#: What each subcommand writes: (option, "file" or "dir"); checked before the subcommand starts.
OUTPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "synth": (("--out", "dir"),), "composites": (("--out", "dir"),),
    "pairs": (("--out", "file"), ("--export-png", "dir")), "train": (("--out", "dir"),),
    "noc": (("--out", "dir"),), "devkit": (("--out", "dir"),), "export": (("--out", "file"),),
    "average": (("--out", "file"),),
    "convert": (("--out", "dir"),), "refiner-pack": (("--out", "dir"),), "train-refiner": (("--out", "dir"),),
}


def check_output(path: str | os.PathLike, kind: str, option: str = "--out") -> None:
    """IFCNError unless `path` (a file, or a folder) can be written; leaves nothing behind.

    Missing folders are made for the test and removed again, and a temporary file is created and
    deleted where the output will go, so a read-only, vanished or invalid place is refused up front.
    """
    text = os.fspath(path)
    if not text or "\0" in text:
        raise IFCNError(f"{option} {text!r}: not a valid path.")
    p = Path(text)
    try:
        if kind == "file" and p.is_dir():
            raise IFCNError(f"{p}: is a folder; {option} needs a file name.")
        if kind == "dir" and p.exists() and not p.is_dir():
            raise IFCNError(f"{p}: exists and is not a folder; choose another {option}.")
        for attempt in range(3):  # another process making or removing the same folders: look again
            try:
                _probe(p, kind, option)
                return
            except (FileExistsError, FileNotFoundError):
                if attempt == 2:
                    raise
    except OSError as e:
        raise IFCNError(f"{p}: cannot write there ({e.strerror or e}).") from None


def _probe(p: Path, kind: str, option: str) -> None:
    """`check_output`'s test: make the missing folders, create and delete a file there, remove the folders."""
    folder = p.parent if kind == "file" else p
    missing = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise IFCNError(f"{p}: {folder} is not a folder, so {option} cannot be written.")
    if kind == "file" and len(os.fsencode(p.name)) > os.pathconf(folder, "PC_NAME_MAX"):
        raise IFCNError(f"{p}: the file name is too long.")
    made: list[Path] = []
    try:
        for d in reversed(missing):
            try:
                d.mkdir()
                made.append(d)
            except FileExistsError:
                if not d.is_dir():
                    raise
                # made meanwhile by another process (two runs writing to sibling folders): not ours to remove
        fd, tmp = tempfile.mkstemp(prefix=".ifcn-write-check-", dir=missing[0] if missing else folder)
        os.close(fd)
        os.unlink(tmp)
    finally:
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass


def _describe(e: OSError) -> str:
    """'FILE: reason' for an OSError (the file it names, else its text)."""
    if e.filename is not None and e.strerror:
        return f"{os.fsdecode(e.filename)}: {e.strerror}"
    return str(e) or type(e).__name__


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    """The top-level parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="ifcn", description="iFCN click-to-mask annotator and tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (modname, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:
            try:
                module = importlib.import_module(modname)
            except ImportError as e:
                raise IFCNError(f"'ifcn {name}' is not available in this installation ({e}).") from None
            module.add_arguments(p)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ifcn` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, module = build_parser(argv)
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        if module is None:
            parser.print_help()
            return 0 if not argv else 2
        for option, kind in OUTPUTS.get(args.command, ()):
            value = getattr(args, option.lstrip("-").replace("-", "_"), None)
            if value is not None:
                check_output(value, kind, option)
        return int(module.run(args) or 0)
    except IFCNError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a disk that fills, a folder that vanishes mid-run: one line, no traceback
        print(f"error: {_describe(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
