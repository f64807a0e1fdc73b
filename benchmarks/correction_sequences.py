"""The NoC oracle's correction sequences, each click timed as the annotator runs it and as the plain forward.

Used by `benchmarks.bench_latency_real`: `sequences` runs the oracle (`training.noc.evaluate`) on the object
folders of BENCH_DATA or on generated ones and summarises the per-click rows as quantiles of ms and of ratios.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import cache_dir
from models.errors import DatasetError

#: The stages of `Predictor.last_timings` recorded per click.
STAGES = ("inputs", "network", "brs", "snap", "refine", "resize", "despeckle")
#: Before an image's first click the oracle waits, as a person finding the object would, until the engine has
#: compiled the image's size (it starts when the image opens) and any other size it is compiling (with zoom-in,
#: the zoomed crops' size, started when the model loads), or this many seconds have passed.
THINK_S = 1.0


def generated_folder(n_images: int = 4, seed: int = 18) -> Path:
    """An object folder (images/ + masks/<stem>_<k>.png) of synthetic 480x360 scenes, cached."""
    import cv2

    from training.synthetic import VOID, synth_image

    root = cache_dir() / f"latency-real-{n_images}-{seed}"
    if (root / "masks").is_dir() and len(list((root / "masks").glob("*.png"))) >= n_images:
        return root
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        rgb, objects, _ = synth_image(rng, (360, 480))
        cv2.imwrite(str(root / "images" / f"gen{i}.png"), rgb[:, :, ::-1])
        void = objects == VOID
        for k in [k for k in np.unique(objects) if k not in (0, VOID)][:2]:
            mask = np.where(objects == k, 255, np.where(void, 128, 0)).astype(np.uint8)
            cv2.imwrite(str(root / "masks" / f"gen{i}_{k}.png"), mask)
    return root


def _sets(data: str | None) -> list[Any]:
    from benchmarks.bench_quality import find_sets

    return find_sets(data) if data else find_sets(generated_folder())


class _Timed:
    """A PredictorLike for `training.noc.evaluate`: each predict runs the click as the annotator does on the
    default predictor (with GrabCut refinement: a network-only preview, then the refined mask of the same network
    output; with colour refinement: the refined mask at once) and the plain forward on the same clicks (eager
    PyTorch; and, when the default runs an engine, the same forward through it), in alternating order, and
    records them all. With colour refinement, GrabCut refinement (Model → Refine with GrabCut) is also timed on
    the same snapped prediction, for comparison ("grabcut_option")."""

    def __init__(self, default, plain, plain_engine=None) -> None:
        self.default, self.plain, self.plain_engine = default, plain, plain_engine
        self.name = default.name
        self.rows: list[dict[str, float]] = []
        self.sizes: list[tuple[int, int]] = []
        self.think: list[tuple[float, bool]] = []  # per image: ms waited before its first click, still compiling
        self._image = ""

    def set_image(self, rgb: np.ndarray) -> None:
        if self.plain_engine is not None:  # compiles here, before the default's background compile starts
            self.plain_engine.set_image(rgb)
        self.plain.set_image(rgb)
        self.default.set_image(rgb)  # as the window does: the size compiles in the background, clicks go on
        self.sizes.append(self.default._work.shape[:2])
        engine, t0 = self.default._engine, time.perf_counter()
        if engine is not None:
            shape = (1, self.default.spec.in_channels, *self.default._net_input.shape[-2:])
            # the image's size, and (with zoom-in) the zoomed crops' size that loading the model started
            while (engine.compiling(shape) or engine.pending()) and time.perf_counter() - t0 < THINK_S:
                time.sleep(0.005)
            self.think.append(((time.perf_counter() - t0) * 1000.0, engine.compiling(shape)))

    def _plain(self) -> tuple[float, float]:
        self.plain.predict_work(self._clicks)
        eager = self.plain.last_timings["network"]
        if self.plain_engine is None:
            return eager, eager
        self.plain_engine.predict_work(self._clicks)
        return eager, self.plain_engine.last_timings["network"]

    def predict(self, clicks, refine: bool = False) -> np.ndarray:
        self._clicks = list(clicks)
        first_plain = len(self.rows) % 2 == 1
        forward, forward_engine = self._plain() if first_plain else (0.0, 0.0)
        d = self.default
        preview: dict[str, float] = {}
        if refine and d.two_stage_refine:
            d.predict(clicks, refine=False)                     # the preview the annotator paints first
            preview = dict(d.last_timings)
        prob = d.predict(clicks, refine=refine)                 # GrabCut: on the preview's network output
        final = dict(d.last_timings)
        evals = d.brs_evals
        option = 0.0
        if refine and d.refine_method != "grabcut" and d._snapped is not None:
            from models import grabcut

            t0 = time.perf_counter()
            grabcut.refine(d._work, d._snapped[2], d._work_clicks(clicks),
                           iterations=grabcut.refine_iterations(d.snap is not None))
            option = (time.perf_counter() - t0) * 1000.0
        if not first_plain:
            forward, forward_engine = self._plain()
        mask = preview.get("total", 0.0) + final["total"]
        row = {"forward": forward, "forward_engine": forward_engine, "mask": mask,
               # what the mask costs before refinement (with GrabCut: the preview the annotator paints first)
               "preview": preview["total"] if preview
               else mask - final.get("refine", 0.0) - final.get("despeckle", 0.0),
               "grabcut_option": option, "clicks": len(self._clicks), "brs_evals": evals,
               # the oracle clicks negative only on a false positive: inside the selection shown
               "negative_inside": len(self._clicks) > 1 and not self._clicks[-1].positive}
        for k in STAGES:
            row[k] = preview.get(k, 0.0) + final.get(k, 0.0)
        self.rows.append(row)
        return prob


def _quantiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {"p50": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}


def sequences(data: str | None, limit: int | None) -> tuple[dict[str, Any], Any]:
    """Run the oracle's correction sequences: the summary of their per-click rows, and the predictor."""
    from annotator.settings import default_settings
    from models.predictor import BRS, EdgeSnap, Predictor, ZoomIn
    from training.noc import evaluate

    s = default_settings()
    default = Predictor.load(None, device="cpu", max_size=s.max_size, zoom_in=ZoomIn() if s.zoom_in else None,
                             brs=BRS() if s.brs else None, engine=s.engine, snap=EdgeSnap() if s.snap else None,
                             refine_method=s.refine_method)
    if default.is_classical:
        raise DatasetError("no default model (resources/weights/default.pt): nothing to measure.")
    plain = Predictor(default.model, device="cpu", max_size=s.max_size, brs=None, snap=None)
    plain_engine = None
    if default._engine is not None:
        plain_engine = Predictor(default.model, device="cpu", max_size=s.max_size, brs=None, engine=s.engine,
                                 snap=None)
        plain_engine._engine.background = False
    timed = _Timed(default, plain, plain_engine)
    names = []
    for folder in _sets(data):
        names.append(folder.name)
        evaluate(timed, folder, split="all", refine=s.refine, limit=limit)
    rows = timed.rows
    out: dict[str, Any] = {"sets": names, "clicks": len(rows), "objects_per_set": limit,
                           "sizes": sorted({f"{w}x{h}" for h, w in timed.sizes}),
                           "settings": {"refine": s.refine, "refine_method": s.refine_method, "brs": s.brs,
                                        "snap": s.snap, "zoom_in": s.zoom_in,
                                        "max_size": s.max_size, "engine": s.engine},
                           "engine_ran": default.info()["engine"],
                           "think_s": THINK_S, "think_ms": _quantiles([w for w, _ in timed.think]),
                           "first_clicks_compiling": sum(c for _, c in timed.think), "images": len(timed.sizes),
                           "forward_ms": _quantiles([r["forward"] for r in rows]),
                           "forward_engine_ms": _quantiles([r["forward_engine"] for r in rows])}
    for key in ("mask", "preview"):  # the same clicks against the engine's own forward (when one runs)
        out[f"{key}_engine_ratio"] = _quantiles([r[key] / r["forward_engine"] for r in rows
                                                 if r["forward_engine"] > 0])
    keys = ("mask", "preview", *STAGES) + (("grabcut_option",) if any(r["grabcut_option"] > 0 for r in rows) else ())
    for key in keys:
        out[f"{key}_ms"] = _quantiles([r[key] for r in rows])
        out[f"{key}_ratio"] = _quantiles([r[key] / r["forward"] for r in rows if r["forward"] > 0])
    neg = [r for r in rows if r["negative_inside"]]
    out["brs_negative_inside_ratio"] = _quantiles([r["brs"] / r["forward"] for r in neg])
    out["brs_negative_inside_n"] = len(neg)
    out["brs_evals_max"] = max((r["brs_evals"] for r in rows), default=0)
    out["work_size"] = max(timed.sizes, key=lambda hw: hw[0] * hw[1]) if timed.sizes else (360, 480)
    return out, default
