"""Paired NoC of two `ifcn noc` runs, split into the choice set and the objects no choice has seen.

The choice set (training/recipes/heldout_choice.sh) is the first 150 held-out objects of each source; v5 and every
inference default were picked on it, so it favours them (MODEL_CARD, "v5 itself distilled towards v5 and kd1").
Clothing and camvid hold more held-out objects (267 and 242); runs made with `--limit 300` evaluate them in the
same order, and the rows past the first FIRST are fresh. This prints, per source and part, NoC@85 / @90 (failed@90)
of each run and the paired difference at 90 % (B - A, its standard error), then the fresh objects together.

    python training/recipes/fresh_compare.py runs/eval/A runs/eval/B [--first 150] [--sources clothing_co_parsing camvid]
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path


def read(run: Path, source: str) -> list[dict[str, str]]:
    with open(run / source / "per_object.csv", newline="") as f:
        return list(csv.DictReader(f))


def paired(a: list[dict[str, str]], b: list[dict[str, str]]) -> tuple[float, float]:
    """Mean and standard error of B - A in NoC@90 over paired rows."""
    d = [float(y["noc@90"]) - float(x["noc@90"]) for x, y in zip(a, b)]
    if not d:
        return math.nan, math.nan
    m = sum(d) / len(d)
    se = math.sqrt(sum((v - m) ** 2 for v in d) / (len(d) - 1) / len(d)) if len(d) > 1 else math.nan
    return m, se


def summary(rows: list[dict[str, str]]) -> str:
    n = len(rows)
    n85 = sum(float(r["noc@85"]) for r in rows) / n
    n90 = sum(float(r["noc@90"]) for r in rows) / n
    return f"{n85:.2f} / {n90:.2f} ({sum(int(r['failed@90']) for r in rows)})"


def compare(a: Path, b: Path, sources: list[str], first: int) -> list[str]:
    lines, fresh_a, fresh_b = [], [], []
    for s in sources:
        ra, rb = read(a, s), read(b, s)
        if [(r["image"], r["object"]) for r in ra] != [(r["image"], r["object"]) for r in rb]:
            raise SystemExit(f"{s}: the two runs did not evaluate the same objects in the same order")
        for part, sl in ((f"objects 1-{first}", slice(0, first)), (f"objects {first + 1}-", slice(first, None))):
            pa, pb = ra[sl], rb[sl]
            if not pa:
                lines.append(f"{s}, {part}: none (run with a larger --limit)")
                continue
            m, se = paired(pa, pb)
            lines.append(f"{s}, {part} ({len(pa)}): A {summary(pa)}  B {summary(pb)}  B - A {m:+.3f} (se {se:.3f})")
        fresh_a += ra[first:]
        fresh_b += rb[first:]
    m, se = paired(fresh_a, fresh_b)
    lines.append(f"fresh objects together ({len(fresh_a)}): B - A {m:+.3f} (se {se:.3f})")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path, help="runs/eval/<tag> of the baseline")
    p.add_argument("b", type=Path, help="runs/eval/<tag> of the candidate")
    p.add_argument("--first", type=int, default=150, help="objects per source in the choice set (150)")
    p.add_argument("--sources", nargs="+", default=["clothing_co_parsing", "camvid"])
    args = p.parse_args(argv)
    print("\n".join(compare(args.a, args.b, args.sources, args.first)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
