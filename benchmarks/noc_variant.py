"""`ifcn noc` with an inference variant that is not a product option, for the measurements recorded in
resources/weights/MODEL_CARD.md ("Inference defaults on real photos"):

    python -m benchmarks.noc_variant --set MIN_KEPT=0 -- --data DIR --split val --limit 50 --out OUT --refine
    python -m benchmarks.noc_variant --set DEFINITE=0.05,MAX_PIXELS=100000 -- --data DIR --out OUT --refine
    python -m benchmarks.noc_variant --clicked-only -- --data DIR --out OUT --refine

`--set` overrides module constants of `models.grabcut` (numbers only); `--clicked-only` keeps only the parts of
each predicted mask (at 0.5) that hold a positive click. Everything after `--` goes to `ifcn noc`.
"""
from __future__ import annotations

import argparse
import sys


def set_constants(spec: str) -> None:
    """Apply 'NAME=VALUE[,NAME=VALUE]' to models.grabcut (each NAME must exist and hold a number)."""
    from models import grabcut

    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        old = getattr(grabcut, name, None)
        if not isinstance(old, (int, float)) or isinstance(old, bool):
            raise SystemExit(f"--set {item}: models.grabcut has no numeric constant {name!r}")
        setattr(grabcut, name, type(old)(float(value)))


def keep_clicked_parts() -> None:
    """Make Predictor.predict keep only the connected parts (at 0.5) of its mask that hold a positive click."""
    from models.regions import clicked_parts
    from models.predictor import Predictor

    plain = Predictor._predict_work

    def clicked_only(self, clicks, refine):
        prob = plain(self, clicks, refine)
        mask = prob >= 0.5
        kept = clicked_parts(mask, self._work_clicks(clicks))  # the rule refinement applies to GrabCut's mask
        if not kept.any():
            return prob
        prob = prob.copy()
        prob[mask & ~kept] = 0.0
        return prob

    Predictor._predict_work = clicked_only


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    ap = argparse.ArgumentParser(prog="python -m benchmarks.noc_variant", description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="", metavar="NAME=VALUE[,...]", help="models.grabcut constants to override")
    ap.add_argument("--clicked-only", action="store_true", help="keep only mask parts that hold a positive click")
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    set_constants(args.set)
    if args.clicked_only:
        keep_clicked_parts()
    from models.cli import main as ifcn
    return ifcn(["noc", *rest])


if __name__ == "__main__":
    sys.exit(main())
