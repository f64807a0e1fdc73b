"""The `ifcn` command: a thin launcher that hands each subcommand to the module that owns it.

Subcommand modules are imported only when chosen, so `ifcn train` never loads Qt and `ifcn annotate`
never loads training code. Each module exposes `add_arguments(parser)` and `run(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from models.errors import IFCNError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "annotate": ("annotator.app", "open the annotator on a folder of images"),
    "synth": ("training.synthetic", "write a small synthetic VOC-layout devkit"),
    "composites": ("training.composites", "build a VOC-layout devkit of composites from real photos"),
    "pairs": ("training.pairs", "generate simulated click pairs for a VOC split"),
    "train": ("training.train", "train an iFCN"),
    "noc": ("training.noc", "NoC benchmark (clicks to reach 85%% / 90%% IoU)"),
    "devkit": ("training.annotations", "turn the annotator's saved annotations into a VOC devkit"),
    "export": ("training.export", "make a shippable model file from a training checkpoint"),
    "info": ("models.info", "versions, device and the models found"),
}


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
        return int(module.run(args) or 0)
    except IFCNError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
