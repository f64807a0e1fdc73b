"""The Benchmark dialog's runs and result files, without Qt: one NocRun per `ifcn noc` child, and the
combined summary.json / summary.csv written when they end."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotator.run_support import child_environment, ifcn_command
from models.fileio import atomic_write_text

SUMMARY_KEYS = ("label", "checkpoint", "refine", "objects", "noc@85", "noc@90", "failed@85", "failed@90")
#: The target of the paired comparison with the first model (`ifcn compare`), in per cent.
PAIRED_TARGET = 90


@dataclass
class NocRun:
    """One `ifcn noc` child: a model with or without refinement, and what it reported."""

    label: str
    checkpoint: str | None  # None = the default model, "grabcut" = classical baseline
    refine: bool
    out: Path
    model: str = ""  # the model's label (runs of one model differ in refinement)
    #: `ifcn compare --json`'s numbers against the first model's run with the same refinement, or why there are none
    paired: dict[str, Any] | None = None
    paired_error: str = ""
    ious: list[list[float]] = field(default_factory=list)
    images_total: int = 0
    images_seen: set = field(default_factory=set)
    end: dict[str, Any] = field(default_factory=dict)
    status: str = "waiting"

    def curve(self, max_clicks: int) -> list[float]:
        """mIoU after clicks 1..max_clicks over the objects so far (last IoU carried forward)."""
        if not self.ious:
            return []
        rows = [(o + [o[-1]] * max_clicks)[:max_clicks] if o else [0.0] * max_clicks for o in self.ious]
        return [float(v) for v in np.mean(np.array(rows, dtype=np.float64), axis=0)]


def slug(text: str) -> str:
    """A folder-name form of a run's label."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "run"


def plan_runs(models: list[tuple[str, str | None]], refines: tuple[bool, ...], out: Path,
              refine_label: str = "colour refinement") -> list[NocRun]:
    """One run per (model, refinement), numbered folders under `out`; ValueError when nothing is left.
    `refine_label` names the refinement in the refined runs' labels (models.colour_refine.REFINE_LABELS)."""
    runs: list[NocRun] = []
    for label, ckpt in models:
        for refine in refines:
            if ckpt == "grabcut" and refine:
                continue  # the classical baseline is GrabCut already
            full = f"{label} + {refine_label}" if refine else label
            if any(r.label == full for r in runs):
                continue
            runs.append(NocRun(full, ckpt, refine, out / f"{len(runs) + 1}_{slug(full)}", model=label))
    if not runs:
        raise ValueError("Nothing to run: with refinement only, the GrabCut baseline has no refined "
                         "variant. Choose 'without refinement' or 'both'.")
    return runs


def baseline_of(runs: list[NocRun], run: NocRun) -> NocRun | None:
    """The run `run` is compared with: the first model's run with the same refinement (None for the first
    model's own runs, or when it has none)."""
    if not runs or run.model == runs[0].model:
        return None
    return next((r for r in runs if r.model == runs[0].model and r.refine == run.refine), None)


def compare_with_first(runs: list[NocRun], run: NocRun) -> None:
    """Compare the finished `run` of model 2 with model 1's run of its refinement (`compare_runs`), or say in
    `run.paired_error` why it cannot be; model 1's own runs are left as they are."""
    if not runs or run.model == runs[0].model:
        return
    base = baseline_of(runs, run)
    if base is None:
        run.paired_error = "Model 1 has no run with this refinement to compare with."
    elif base.status != "done":
        run.paired_error = f"Model 1's run of this refinement did not finish ({base.status})."
    else:
        compare_runs(base, run)


def compare_runs(base: NocRun, run: NocRun, target: int = PAIRED_TARGET, timeout: float = 20.0) -> None:
    """Fill `run.paired` with `ifcn compare base run --json` (the per-object NoC difference at `target`, its
    standard error and verdict; the CLI is the one implementation of it), or `run.paired_error` with why not."""
    argv = ifcn_command("compare", str(base.out), str(run.out), "--json", "--target", str(target))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=child_environment())
        if done.returncode != 0:
            raise ValueError((done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1])
        data = json.loads(done.stdout)
        run.paired, run.paired_error = dict(data["sets"][-1], target=target), ""
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, IndexError, TypeError) as e:
        run.paired, run.paired_error = None, str(e).removeprefix("error: ") or type(e).__name__


def paired_text(run: NocRun) -> tuple[str, str]:
    """(cell text, tooltip) of `run`'s comparison with model 1: '-0.32 ± 0.10 (gain)'; '–' without one."""
    p = run.paired
    if p is None:
        return "–", run.paired_error or "Model 1's runs are the reference of this column."
    better, worse, same = p["better_worse_same"]
    tip = (f"Paired over the {p['objects']} objects both runs measured: this run's NoC@{p['target']} minus "
           f"model 1's on the same object, mean {p['difference']:+.3f} (negative: fewer clicks), standard error "
           f"{p['se']:.3f}; {better} objects better, {worse} worse, {same} the same. A gain or a loss at 2 standard "
           "errors or more, else a tie (`ifcn compare`).")
    return f"{p['difference']:+.2f} ± {p['se']:.2f} ({p['verdict']})", tip


def summaries(runs: list[NocRun], max_clicks: int, note: str = "") -> list[dict[str, Any]]:
    """One summary per finished run (label, model, refine, NoC, failures, mIoU curve); `note` says what
    the numbers are worth (e.g. measured on training images)."""
    out = []
    for r in runs:
        if r.status != "done":
            continue
        e = r.end
        row = {"label": r.label, "checkpoint": r.checkpoint or "default", "refine": r.refine,
               "objects": e.get("objects", len(r.ious)), "noc@85": e.get("noc@85"),
               "noc@90": e.get("noc@90"), "failed@85": e.get("failed@85"), "failed@90": e.get("failed@90"),
               "miou_per_click": e.get("miou_per_click") or r.curve(max_clicks), "folder": str(r.out),
               "vs_first": r.paired}
        if note:
            row["note"] = note
        out.append(row)
    return out


def write_summaries(folder: Path, rows: list[dict[str, Any]], max_clicks: int) -> list[Path]:
    """summary.json and summary.csv (one line per run, mIoU after each click) in `folder`; OSError passes."""
    atomic_write_text(folder / "summary.json", json.dumps(rows, indent=2) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    paired = [f"vs_first_noc@{PAIRED_TARGET}", "vs_first_se", "vs_first_verdict"]
    w.writerow(list(SUMMARY_KEYS) + paired + [f"miou_{i + 1}" for i in range(max_clicks)])
    for r in rows:
        p = r.get("vs_first") or {}
        w.writerow([r[k] for k in SUMMARY_KEYS] + [p.get("difference", ""), p.get("se", ""), p.get("verdict", "")]
                   + [f"{v:.5f}" for v in r["miou_per_click"]])
    atomic_write_text(folder / "summary.csv", buf.getvalue())
    return [folder / "summary.json", folder / "summary.csv"]
