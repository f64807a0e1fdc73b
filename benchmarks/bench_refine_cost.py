"""What f-BRS and refinement (colour, the annotator's default; GrabCut, Model → Refine with GrabCut) add to a
click, as ratios to the plain network forward on the same image in the same run (interleaved), on the sample
photos: issue 18's "f-BRS worst case ≤ 2.0×" and "refinement added ≤ 1.0×" targets. Ratios, not milliseconds,
so they hold on any machine.

    python -m benchmarks.bench_refine_cost            # prints the section; BENCH_QUICK=1: few repetitions
    python -m benchmarks.bench_refine_cost --results  # and replaces its block of benchmarks/RESULTS.md
"""
from __future__ import annotations

import time
from typing import Any, Callable

import cv2
import numpy as np

from benchmarks.common import ROOT, Section, Stats, Target, default_model, has_trained_default, reps
from models import colour_refine, grabcut
from models.brs import BRS, click_discs
from models.clicks import Click
from models.fileio import read_image
from models.predictor import Predictor

BLOCK = "refine-cost"
PHOTOS = ("astronaut.jpg", "chelsea.jpg", "coffee.jpg", "coins.jpg", "rocket.jpg", "camera.jpg")


def _fresh(p: Predictor, clicks: list[Click], **kw) -> np.ndarray:
    """p.predict of `clicks` as a new click (its earlier prefixes remembered, itself not)."""
    p.forget(clicks)
    return p.predict(clicks, **kw)


def cpu_interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1) -> dict[str, Stats]:
    """Like `benchmarks.common.interleaved`, but in CPU milliseconds of this process (all its threads): on a
    machine shared with a training run, wall time measures the other processes too; CPU time does not."""
    names = list(fns)
    for _ in range(warmup):
        for k in names:
            fns[k]()
    out: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.process_time()
            fns[k]()
            out[k].append((time.process_time() - t0) * 1000.0)
    return {k: Stats(v) for k, v in out.items()}


def _worst_case_clicks(off: Predictor, mask: np.ndarray, first: Click) -> list[Click] | None:
    """The first click and the negative click inside its selection (≥ 20 px away, ≥ 6 px inside) that the
    plain network ignores most (highest mean probability on its disc, of 9 candidates): what a user does to
    cut a selection, and the case where f-BRS has the most to do."""
    away = mask.astype(np.uint8)
    cv2.circle(away, (int(first.x), int(first.y)), 20, 0, thickness=-1)
    inside = cv2.distanceTransform(away, cv2.DIST_L2, 5) >= 6
    ys, xs = np.nonzero(inside)
    if len(ys) == 0:
        return None
    pick = np.linspace(0, len(ys) - 1, 9).astype(int)
    best, best_wrong = None, -1.0
    for y, x in zip(ys[pick], xs[pick]):
        clicks = [first, Click(float(x), float(y), False)]
        _, neg = click_discs(clicks, *mask.shape, BRS().radius)
        wrong = float(off.predict(clicks)[neg].mean())
        if wrong > best_wrong:
            best, best_wrong = clicks, wrong
    return best


def _photo(name: str) -> np.ndarray:
    rgb = read_image(ROOT / "resources" / "samples" / name)
    s = min(1.0, 512 / max(rgb.shape[:2]))  # the predictor's working size: GrabCut sees the same pixels
    return rgb if s == 1.0 else cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                                           interpolation=cv2.INTER_AREA)


def run() -> Section:
    """f-BRS worst case and GrabCut refinement per sample photo, each divided by the plain forward."""
    t0 = time.perf_counter()
    sec = Section("f-BRS and refinement cost, as ratios to the plain forward", block=BLOCK)
    from annotator.settings import default_settings

    from models.edge_snap import EdgeSnap, snap

    model, desc = default_model()
    engine, snapped = default_settings().engine, default_settings().snap
    iterations = grabcut.refine_iterations(snapped)  # as the predictor picks them
    on = Predictor(model, device="cpu", engine=engine, snap=None)  # f-BRS on, the annotator's engine
    if on._engine is not None:
        on._engine.background = False  # each photo's size compiles before timing (a compile thread's CPU
        #                                time would count in this process's)
    off = Predictor(model, device="cpu", brs=None, snap=None)  # the plain network (eager PyTorch)
    eager = Predictor(model, device="cpu", snap=None)          # f-BRS on, eager backbone: f-BRS's own cost
    n = reps(9, 3)
    rows, brs_ratios, eager_ratios, gc_ratios, col_ratios = [], [], [], [], []
    for name in PHOTOS:
        rgb = _photo(name)
        h, w = rgb.shape[:2]
        for p in (on, off, eager):
            p.set_image(rgb)
        first = Click(w / 2, h / 2, True)
        mask = off.predict([first]) >= 0.5
        clicks = _worst_case_clicks(off, mask, first) if mask.any() else None
        if clicks is None:
            continue
        off.predict(clicks[:1]), on.predict(clicks[:1]), eager.predict(clicks[:1])
        evals: list[int] = []
        prob = on.predict_work(clicks)
        if snapped:  # what GrabCut refines in the annotator: the edge-snapped prediction
            prob = snap(rgb, prob, clicks, EdgeSnap())
        st = cpu_interleaved({"plain": lambda: _fresh(off, clicks),
                              "brs": lambda: (_fresh(on, clicks), evals.append(on.brs_evals)),
                              "brs_eager": lambda: _fresh(eager, clicks),
                              "grabcut": lambda: grabcut.refine(rgb, prob, clicks, iterations=iterations),
                              "colour": lambda: colour_refine.refine(rgb, prob, clicks)},
                             n, warmup=1)
        plain = st["plain"].median
        wrong = sum((on.predict(clicks)[int(c.y), int(c.x)] >= 0.5) != c.positive for c in clicks)
        b, be, g, c = (st[k].median / plain for k in ("brs", "brs_eager", "grabcut", "colour"))
        brs_ratios.append(b)
        eager_ratios.append(be)
        gc_ratios.append(g)
        col_ratios.append(c)
        rows.append([f"{name} {w}×{h}", f"{plain:.1f}", f"{st['brs'].median:.1f}", f"{b:.2f}×", f"{be:.2f}×",
                     max(evals), wrong, f"{st['colour'].median:.1f}", f"{c:.2f}×", f"{st['grabcut'].median:.1f}",
                     f"{g:.2f}×"])
    sec.table(["photo (working size)", "plain forward p50 CPU ms", "f-BRS worst case p50 CPU ms (as the annotator)",
               "f-BRS / forward", "f-BRS, eager backbone / forward", "head evaluations", "clicks wrong after f-BRS",
               "colour refine added p50 CPU ms", "colour / forward", "GrabCut refine added p50 CPU ms",
               "GrabCut / forward"], rows)
    sec.notes.append(f"Backbone of the f-BRS run: {on.info()['engine']} (the annotator's engine setting "
                     f"{engine!r}); 'f-BRS, eager backbone' is the same predict with the backbone in PyTorch (f-BRS's "
                     "own cost); the plain forward is eager PyTorch.")
    sec.notes.append(f"Model: {desc}; whole image (no zoom-in), as the annotator runs it. Clicks: a positive one "
                     "at the image centre, then a negative one deep inside its selection ≥ 20 px away (f-BRS's "
                     "worst case: the network keeps the clicked pixels selected). 'plain forward' is "
                     "`Predictor.predict` with f-BRS off; 'f-BRS worst case' the same with f-BRS on (the whole "
                     "predict, edge snapping off, as it is timed on its own); 'colour refine added' is "
                     "`colour_refine.refine` (what `refine=True` adds by default) and 'GrabCut refine added' "
                     f"`grabcut.refine` at {iterations} iterations as the predictor runs it (Model → Refine with "
                     "GrabCut), both on f-BRS's probability for these clicks"
                     + (", edge-snapped as the annotator does" if snapped else "") +
                     ". All five interleaved in one process, timed in CPU time of the process "
                     "(see `cpu_interleaved`).")
    if not has_trained_default():
        sec.notes.append("No trained default model: the untrained network ignores every click.")
    if brs_ratios:
        worst_b, worst_e, worst_g, worst_c = max(brs_ratios), max(eager_ratios), max(gc_ratios), max(col_ratios)
        sec.targets.append(Target("f-BRS worst case (a negative click inside the selection) / plain forward",
                                  "≤ 2.0×", f"max {worst_e:.2f}× with the eager backbone, {worst_b:.2f}× as the "
                                  f"annotator runs it (engine), over {len(brs_ratios)} photos",
                                  max(worst_b, worst_e) <= 2.0))
        sec.targets.append(Target("refinement added to a click / plain forward (colour refinement, the "
                                  "annotator's default)", "≤ 1.0×",
                                  f"max {worst_c:.2f}× over {len(col_ratios)} photos (GrabCut refinement, Model → "
                                  f"Refine with GrabCut: max {worst_g:.2f}×)", worst_c <= 1.0,
                                  "" if worst_c <= 1.0 else
                                  "colour refinement (models/colour_refine.py: two colour histograms and a "
                                  "guided filter on a crop around the object) costs more than the network here"))
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    import sys

    from benchmarks.run_all import RESULTS, splice
    from models.fileio import atomic_write_text

    section = run()
    print(section.markdown())
    if "--results" in sys.argv[1:]:
        atomic_write_text(RESULTS, splice(RESULTS.read_text(encoding="utf-8"), section))
        print(f"wrote its block of {RESULTS}")
