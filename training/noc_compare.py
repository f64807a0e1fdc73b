"""`ifcn compare BASELINE CANDIDATE`: two NoC runs of the same objects, compared object by object.

Two models (or two inference settings) measured on a few hundred objects differ by a few tenths of a click per
object, about what one object more or less failing moves a set's mean. Paired per object (the candidate's NoC
minus the baseline's on the same object), the noise of which objects are hard cancels out: the mean difference
and its standard error say whether a change is a gain or a tie. This is how every default model and inference
setting of this project was chosen (resources/weights/MODEL_CARD.md: "NoC@90 against v4, per object (paired)").

Each argument is a folder written by `ifcn noc --out` (holding `per_object.csv`) or a folder of such folders, e.g.
one per source (`runs/eval/TAG/<source>`) or the quality runs of `make bench`; the sets are matched by their path
below the two folders, the objects by (image, object). `--by-size` also splits all objects by their area (COCO's
small / medium / large): a change may help the large objects the benchmarks hold and not the tiny ones that most
failures of the training photos' held-out split are, or the other way round.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import IFCNError

#: A difference this many standard errors from zero or more is reported as a gain or a loss, else a tie.
SIGNIFICANT_SE = 2.0
#: Settings of a run that must agree for its NoC to be comparable (summary.json).
PROTOCOL_KEYS = ("max_clicks", "split")
#: COCO's object sizes (area in the photo's pixels): small below 32², medium below 96², large from there.
SIZES = (("small", 0, 32 ** 2), ("medium", 32 ** 2, 96 ** 2), ("large", 96 ** 2, math.inf))


@dataclass
class Paired:
    """Per-object NoC pairs (baseline, candidate) of one set, or of all sets together, and which objects failed
    the target in each run."""

    name: str
    pairs: list[tuple[float, float]] = field(default_factory=list)
    fails: list[tuple[bool, bool]] = field(default_factory=list)
    areas: list[float | None] = field(default_factory=list)  # each object's area in pixels, where the runs say

    @classmethod
    def of(cls, name: str, a: dict, b: dict, keys: list) -> "Paired":
        """The pairs of two `read_noc` results (baseline `a`, candidate `b`) for the objects `keys`."""
        return cls(name, [(a[k][0], b[k][0]) for k in keys], [(a[k][1], b[k][1]) for k in keys],
                   [a[k][2] if a[k][2] is not None else b[k][2] for k in keys])

    def extend(self, other: "Paired") -> None:
        """Add `other`'s objects to these (all sets together)."""
        self.pairs += other.pairs
        self.fails += other.fails
        self.areas += other.areas

    def subset(self, name: str, keep: list[bool]) -> "Paired":
        """The objects where `keep` is true, as a result of their own."""
        pick = [i for i, k in enumerate(keep) if k]
        return Paired(name, [self.pairs[i] for i in pick], [self.fails[i] for i in pick],
                      [self.areas[i] for i in pick])

    @property
    def n(self) -> int:
        return len(self.pairs)

    def mean(self, which: int) -> float:
        """Mean NoC of the baseline (0) or the candidate (1)."""
        return sum(p[which] for p in self.pairs) / self.n

    @property
    def diff(self) -> float:
        """Mean of candidate - baseline (negative: the candidate needs fewer clicks)."""
        return sum(b - a for a, b in self.pairs) / self.n

    @property
    def se(self) -> float:
        """Standard error of `diff` (0 for a single object)."""
        if self.n < 2:
            return 0.0
        d = [b - a for a, b in self.pairs]
        m = sum(d) / self.n
        return math.sqrt(sum((x - m) ** 2 for x in d) / (self.n - 1) / self.n)

    def counts(self) -> tuple[int, int, int]:
        """Objects (better, worse, same) for the candidate."""
        better = sum(b < a for a, b in self.pairs)
        worse = sum(b > a for a, b in self.pairs)
        return better, worse, self.n - better - worse

    def failed(self, which: int) -> int:
        """Objects that never reached the target in the baseline (0) or the candidate (1)."""
        return sum(f[which] for f in self.fails)

    def verdict(self) -> str:
        """'gain', 'loss' or 'tie' for the candidate: a gain or a loss when the difference is SIGNIFICANT_SE
        standard errors from zero or more."""
        if self.se == 0.0:
            return "tie" if self.diff == 0 else ("gain" if self.diff < 0 else "loss")
        z = self.diff / self.se
        return "gain" if z <= -SIGNIFICANT_SE else "loss" if z >= SIGNIFICANT_SE else "tie"


def find_runs(root: Path) -> dict[str, Path]:
    """The NoC runs under `root`: {path below root ('.' for root itself): folder holding per_object.csv}."""
    if not root.is_dir():
        raise IFCNError(f"{root}: no such folder (give a folder written by `ifcn noc --out`).")
    runs = {p.parent.relative_to(root).as_posix(): p.parent for p in sorted(root.rglob("per_object.csv"))}
    if not runs:
        raise IFCNError(f"{root}: holds no per_object.csv (give a folder written by `ifcn noc --out`, "
                        "or a folder of such folders).")
    return runs


def read_noc(folder: Path, target: int) -> dict[tuple[str, str], tuple[float, bool, float | None]]:
    """{(image, object): (NoC, failed, area or None)} of one run's per_object.csv at `target` per cent."""
    column, failed = f"noc@{target}", f"failed@{target}"
    path = folder / "per_object.csv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise IFCNError(f"{path}: cannot be read ({e}).") from None
    if rows and column not in rows[0]:
        have = ", ".join(k for k in rows[0] if k and k.startswith("noc@")) or "none"
        raise IFCNError(f"{path}: has no {column} column (it has: {have}).")
    out = {}
    for i, r in enumerate(rows, start=2):
        try:
            noc = float(r[column])
            if not math.isfinite(noc):
                raise ValueError(noc)
            area = r.get("area")
            area = float(area) if area not in (None, "") else None
            if area is not None and not (math.isfinite(area) and area >= 0):
                raise ValueError(area)
            out[(r["image"], r["object"])] = (noc, (r.get(failed) or "0").strip() not in ("0", ""), area)
        except (KeyError, TypeError, ValueError):
            raise IFCNError(f"{path}, line {i}: not a NoC row ({column} = {r.get(column)!r}).") from None
    return out


def _protocol(folder: Path) -> dict:
    """The run's settings that must match, those its summary.json records (a setting a run does not record, e.g.
    the split of a `make bench` run before 2026-12-06, is not a clash; empty when it has no summary)."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(summary, dict):
        return {}
    return {k: summary[k] for k in PROTOCOL_KEYS if summary.get(k) is not None}


def compare(baseline: Path, candidate: Path, target: int = 90) -> tuple[list[Paired], list[str]]:
    """Per-set `Paired` results (the last one: all sets together when there are several) and notes on what was
    left out (sets or objects found on one side only). Two folders of one run each are compared whatever their
    names."""
    a_runs, b_runs = find_runs(baseline), find_runs(candidate)
    if len(a_runs) == 1 and len(b_runs) == 1:
        (ka, fa), (kb, fb) = next(iter(a_runs.items())), next(iter(b_runs.items()))
        name = ka if ka != "." else kb if kb != "." else baseline.name
        a_runs, b_runs = {name: fa}, {name: fb}
    common = [k for k in a_runs if k in b_runs]
    if not common:
        raise IFCNError(f"{baseline} and {candidate} hold no set in common (sets: {', '.join(a_runs)} against "
                        f"{', '.join(b_runs)}).")
    notes = [f"set {k} only in {'the baseline' if k in a_runs else 'the candidate'}: left out"
             for k in sorted(set(a_runs) ^ set(b_runs))]
    sets, every = [], Paired("all")
    for key in common:
        pa, pb = _protocol(a_runs[key]), _protocol(b_runs[key])
        clash = [k for k in PROTOCOL_KEYS if k in pa and k in pb and pa[k] != pb[k]]
        if clash:
            raise IFCNError(f"set {key}: the runs differ in {', '.join(f'{k} ({pa[k]} / {pb[k]})' for k in clash)}; "
                            "their NoC cannot be compared.")
        a, b = read_noc(a_runs[key], target), read_noc(b_runs[key], target)
        both = [k for k in a if k in b]
        if len(both) < max(len(a), len(b)):
            notes.append(f"set {key}: {len(both)} objects in both runs ({len(a)} / {len(b)}); the others left out")
        if not both:
            continue
        paired = Paired.of(key, a, b, both)
        sets.append(paired)
        every.extend(paired)
    if not every.pairs:
        raise IFCNError(f"{baseline} and {candidate} have no object in common.")
    return sets + ([every] if len(sets) > 1 else []), notes


def by_size(total: Paired) -> list[Paired]:
    """`total`'s objects split by COCO's sizes (the sizes with no object left out); refused when the runs do not
    record areas (`per_object.csv` without an area column)."""
    if any(a is None for a in total.areas):
        raise IFCNError("--by-size: the runs' per_object.csv have no object areas (an older `ifcn noc`?).")
    parts = [total.subset(f"{name} (area < {hi:g} px)" if hi != math.inf else f"{name} (area >= {lo:g} px)",
                          [lo <= a < hi for a in total.areas]) for name, lo, hi in SIZES]
    return [p for p in parts if p.n]


def format_report(results: list[Paired], target: int, notes: list[str], sizes: list[Paired] = ()) -> str:
    """The comparison as a text table and a closing sentence (about `results`' last row: all sets); `sizes`
    adds rows for the objects of each size."""
    head = ["set", "objects", f"NoC@{target} baseline", "candidate", "difference (se)", "better / worse / same",
            "failed baseline / candidate", "verdict"]
    rows = []
    for r in [*results, *sizes]:
        better, worse, same = r.counts()
        rows.append([r.name, str(r.n), f"{r.mean(0):.2f}", f"{r.mean(1):.2f}", f"{r.diff:+.3f} ({r.se:.3f})",
                     f"{better} / {worse} / {same}", f"{r.failed(0)} / {r.failed(1)}", r.verdict()])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    if sizes:
        lines.insert(2 + len(results), "  ".join("-" * w for w in widths))
    total = results[-1]
    word = {"gain": "fewer", "loss": "more"}.get(total.verdict())
    if word is None and total.se == 0.0:
        lines.append(f"\nA tie at {target} %: every object needs as many clicks in both runs.")
    elif word is None:
        lines.append(f"\nA tie at {target} %: {total.diff:+.3f} clicks per object is within "
                     f"{SIGNIFICANT_SE:g} standard errors ({total.se:.3f}) of no difference.")
    else:
        z = f"{abs(total.diff) / total.se:.1f} standard errors" if total.se else "the same on every object"
        lines.append(f"\nThe candidate needs {abs(total.diff):.3f} {word} clicks per object at {target} % "
                     f"({z}, {total.n} objects).")
    lines += notes
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ifcn compare BASELINE CANDIDATE [--target 90] [--json]`."""
    parser.add_argument("baseline", type=Path, help="`ifcn noc --out` folder (or a folder of them): the reference")
    parser.add_argument("candidate", type=Path, help="the same for the model or setting to judge")
    parser.add_argument("--target", type=int, default=90, metavar="PCT",
                        help="the NoC target in per cent, a column of the runs (default 90)")
    parser.add_argument("--by-size", action="store_true",
                        help="also compare the objects of each COCO size (small < 32², medium < 96², large) over "
                             "all sets")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn compare`."""
    results, notes = compare(args.baseline, args.candidate, args.target)
    sizes = by_size(results[-1]) if getattr(args, "by_size", False) else []
    if args.json:
        doc = {"target": args.target, "sets": [_as_json(r) for r in results], "notes": notes}
        if sizes:
            doc["sizes"] = [_as_json(r) for r in sizes]
        print(json.dumps(doc, indent=1))
    else:
        print(format_report(results, args.target, notes, sizes))
    return 0


def _as_json(r: Paired) -> dict:
    return {"set": r.name, "objects": r.n, "baseline": round(r.mean(0), 4), "candidate": round(r.mean(1), 4),
            "difference": round(r.diff, 4), "se": round(r.se, 4), "better_worse_same": list(r.counts()),
            "failed": [r.failed(0), r.failed(1)], "verdict": r.verdict()}
