"""Paired NoC of two `ifcn noc` runs, split into the choice set and the objects no choice has seen.

The choice set (training/recipes/heldout_choice.sh) is the first 150 held-out objects of each source; v5 and every
inference default were picked on it, so it favours them (MODEL_CARD, "v5 itself distilled towards v5 and kd1").
Clothing and camvid hold more held-out objects (267 and 242); runs made with `--limit 300` evaluate them in the
same order, and the rows past the first FIRST are fresh. This prints, per source and part, NoC@85 / @90 (failed@90)
of each run and the paired difference at 90 % (B - A, its standard error: `training.noc_compare.Paired`, the one
`ifcn compare` uses), then the fresh objects together.

    python training/recipes/fresh_compare.py runs/eval/A runs/eval/B [--first 150] \
        [--sources clothing_co_parsing camvid]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.errors import IFCNError  # noqa: E402
from training.noc_compare import Paired, read_noc  # noqa: E402


def summary(p85: Paired, p90: Paired, which: int) -> str:
    """NoC@85 / @90 (failed@90) of the baseline (0) or the candidate (1)."""
    return f"{p85.mean(which):.2f} / {p90.mean(which):.2f} ({p90.failed(which)})"


def compare(a: Path, b: Path, sources: list[str], first: int) -> list[str]:
    lines, fresh = [], Paired("fresh")
    for s in sources:
        pairs = {}
        for target in (85, 90):
            ra, rb = read_noc(a / s, target), read_noc(b / s, target)
            if list(ra) != list(rb):
                raise SystemExit(f"{s}: the two runs did not evaluate the same objects in the same order")
            pairs[target] = Paired.of(s, ra, rb, list(ra))
        n = pairs[90].n
        for part, is_fresh in ((f"objects 1-{first}", False), (f"objects {first + 1}-", True)):
            keep = [(i >= first) == is_fresh for i in range(n)]
            p85, p90 = pairs[85].subset(part, keep), pairs[90].subset(part, keep)
            if not p90.n:
                lines.append(f"{s}, {part}: none (run with a larger --limit)")
                continue
            lines.append(f"{s}, {part} ({p90.n}): A {summary(p85, p90, 0)}  B {summary(p85, p90, 1)}  "
                         f"B - A {p90.diff:+.3f} (se {p90.se:.3f})")
            if is_fresh:
                fresh.extend(p90)
    lines.append(f"fresh objects together ({fresh.n}): " +
                 (f"B - A {fresh.diff:+.3f} (se {fresh.se:.3f})" if fresh.n else "none (run with a larger --limit)"))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path, help="runs/eval/<tag> of the baseline")
    p.add_argument("b", type=Path, help="runs/eval/<tag> of the candidate")
    p.add_argument("--first", type=int, default=150, help="objects per source in the choice set (150)")
    p.add_argument("--sources", nargs="+", default=["clothing_co_parsing", "camvid"])
    args = p.parse_args(argv)
    try:
        print("\n".join(compare(args.a, args.b, args.sources, args.first)))
    except IFCNError as e:
        print(f"fresh_compare: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
