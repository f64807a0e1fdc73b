"""Click latency on real correction sequences, as ratios to the plain network forward; peers; engines.

    python -m benchmarks.run_all --only latency_real [--bench-data DIR]
    BENCH_LATENCY_LIMIT=N   objects per set (default 3; 0 = all)

Clicks: the NoC oracle's (`training.noc.evaluate`: first click at the object's interior point, each next
one at the centre of the largest error region, up to 90 % IoU or 20 clicks) on the object folders of
BENCH_DATA (images/ + masks/<stem>_<k>.png, `training.layouts.ObjectFolder`), or, without it, on generated
images written in that layout. Each click runs as the annotator runs it by default (`Predictor.load` with
its defaults and the annotator's settings: colour refinement at once; with Model → Refine with GrabCut, a
network-only preview, then the GrabCut-refined mask from the same network output), and, interleaved on the same
image and clicks, the plain network forward (f-BRS off). GrabCut refinement is also timed on the same snapped
predictions, for the row that compares the two refinements.
Times per stage come from `Predictor.last_timings`. Every ratio is per click, time / that click's plain
forward, so the machine's load hits both alike.

Peers on the same image size, interleaved with our forward: an HRNet-18-small-v2 + OCR-style head network
(RITM's HRNet-18s-OCR size; timm, random weights) and SAM ViT-B (segment-anything classes, random weights):
its image encoder at 1024 px once per image, prompt encoder + mask decoder per click. Engines: our backbone
through PyTorch eager, ONNX Runtime and OpenVINO (`models.engines`), the head in PyTorch for all.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import GRABCUT_TRIED, ROOT, Section, Target, machine_info
from benchmarks.correction_sequences import STAGES, sequences  # noqa: F401 (STAGES: re-exported for callers)
from benchmarks.engine_table import engine_table
from benchmarks.peers import _OCRHead, hrnet_ocr, peers, sam_vit_b  # noqa: F401 (re-exported for callers)
from models import grabcut
from models.errors import DatasetError

#: Where the last run's numbers are stored (committed beside RESULTS.md).
STORE = Path(__file__).resolve().parent / "results_latency_real.json"
BLOCK = "latency-real"
DEFAULT_LIMIT = 3
#: Issue 18's targets, as ratios to the plain forward.
TARGETS = {"p95": 2.0, "p50": 1.3, "brs_max": 2.0, "refine_p50": 1.0}
#: How the refinement that ran is named in the rows.
METHOD_NAMES = {"colour": "colour refinement", "grabcut": "GrabCut refinement"}


def limit_from_env() -> int | None:
    """BENCH_LATENCY_LIMIT: objects per set (None = all)."""
    raw = os.environ.get("BENCH_LATENCY_LIMIT", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        n = int(raw)
    except ValueError:
        raise DatasetError(f"BENCH_LATENCY_LIMIT={raw!r}: give a number of objects per set.") from None
    return None if n <= 0 else n


def cpu_flags() -> tuple[str, list[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo."""
    model, flags = "?", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "model name" and model == "?":
                model = val.strip()
            elif key.strip() == "flags" and not flags:
                flags = val.split()
    except OSError:
        pass
    return model, flags


#: The CPU features that decide which kernels the engines and PyTorch pick.
KEY_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def key_flags(flags: list[str]) -> str:
    """'avx2 yes, avx512f yes, ..., amx_tile no': the flags of `KEY_FLAGS`, present or not."""
    return ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in KEY_FLAGS)


# ---------------------------------------------------------------------------------------------- report

def measure(data: str | None = None, limit: int | None = DEFAULT_LIMIT) -> dict[str, Any]:
    """Everything this benchmark measures, as the record STORE keeps."""
    info = machine_info()
    model, flags = cpu_flags()
    print("  latency_real: correction sequences ...", file=sys.stderr, flush=True)
    seq, default = sequences(data, limit)
    print("  latency_real: peers ...", file=sys.stderr, flush=True)
    pe = peers(seq, default)
    print("  latency_real: engines ...", file=sys.stderr, flush=True)
    en = engine_table(seq, default)
    from models import engines

    auto = next((n for n in engines.PREFERENCE if n in en["ms"]), "torch")
    return {"format": "ifcn-bench-latency-real", "version": 1, "date": info["date"], "commit": info["commit"],
            "auto_picks": auto, "load_average_end": " / ".join(f"{v:.2f}" for v in os.getloadavg()),
            "load_note": os.environ.get("BENCH_LOAD_NOTE", ""),
            "cpu": model, "cpu_flags": flags, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"), "nice": os.nice(0),
            "load_average": info["load average at start (1/5/15 min)"], "data": data or "generated",
            "sequences": seq, "peers": pe, "engines": en}


def _r(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.2f}×"


def _vs_engine(seq: dict[str, Any], q: str) -> str:
    """' (2.10× the engine's own forward)' when an engine ran the default's backbone, else ''."""
    if seq.get("engine_ran", "torch") == "torch" or "mask_engine_ratio" not in seq:
        return ""
    return f" ({_r(seq['mask_engine_ratio'][q])} the engine's own forward)"


def _method(seq: dict[str, Any]) -> str:
    """The refinement the annotator ran in `seq` ('colour' or 'grabcut')."""
    return seq.get("settings", {}).get("refine_method", "grabcut")


def _engine_note(seq: dict[str, Any], q: str) -> str:
    """Say when the target is met against eager PyTorch only, or which stage keeps it from being met."""
    limit = TARGETS[q]
    if seq["mask_ratio"][q] > limit:
        stages = {METHOD_NAMES[_method(seq)]: "refine", "f-BRS": "brs", "backbone": "network",
                  "click maps": "inputs", "edge snapping": "snap"}
        name, key = max(((n, k) for n, k in stages.items() if f"{k}_ratio" in seq),
                        key=lambda kv: seq[f"{kv[1]}_ratio"][q])
        pre = seq["preview_ratio"]
        return (f"{name} alone is {_r(seq[f'{key}_ratio'][q])} at {q}; before refinement (network + f-BRS + "
                f"edge snapping) a click costs {_r(pre['p50'])} p50 / {_r(pre['p95'])} p95")
    if not _vs_engine(seq, q):
        return ""
    if seq["mask_ratio"][q] <= limit < seq["mask_engine_ratio"][q]:
        return (f"met against the eager forward only: the engine speeds the backbone up, f-BRS / refinement / resize "
                f"stay, and against the engine's own forward it is over {limit}×")
    return ""


def _think_note(seq: dict[str, Any]) -> str:
    """How the oracle's first click of an image met the engine's background compile of its size."""
    if "think_ms" not in seq:  # a store written before the oracle waited
        return ("The oracle clicks as soon as an image is open, so the first click of each image meets the "
                "engine's background compile of its size (the backbone's max; a person takes longer to click).")
    if not seq.get("engine_ran") or seq["engine_ran"] == "torch":
        return "No engine ran, so nothing compiles when an image opens."
    t = seq["think_ms"]
    return (f"Before an image's first click the oracle waits, as a person finding the object would, until the "
            f"engine has compiled the image's size (it starts when the image opens) or {seq['think_s']:g} s have "
            f"passed: waits p50 {t['p50']:.0f} ms, max {t['max']:.0f} ms over {seq['images']} images; "
            f"{seq['first_clicks_compiling']} first clicks still met a compile (their backbone ran in PyTorch "
            f"beside it).")


def _engine_target(seq: dict[str, Any], en: dict[str, Any], picks: str, en_fast: str) -> Target:
    """Is the engine the annotator runs the fastest? Judged on the correction sequences' clicks (the same
    clicks through eager PyTorch and through the engine, interleaved, n = all clicks); the engines table (one
    input, fewer rounds) is reported beside it."""
    table = ", ".join(f"{k} {en['ms'][k]:.0f} ms ({en['ms'][k] / en['ms']['torch']:.2f}×)" for k in en["ms"])
    fe, fw = seq.get("forward_engine_ms", {}).get("p50"), seq["forward_ms"]["p50"]
    if picks == "torch" or not fe or seq.get("engine_ran", "torch") == "torch":
        return Target("fastest engine for the same graph (eager, ONNX Runtime, OpenVINO)", "use the fastest; report all",
                      f"table: {table}; the annotator runs eager PyTorch", en_fast == "torch",
                      "" if en_fast == "torch" else f"{en_fast} measured fastest but is not installed by default")
    ratio = fe / fw
    return Target("fastest engine for the same graph (eager, ONNX Runtime, OpenVINO)", "use the fastest; report all",
                  f"the annotator runs {picks}: its forward on the sequences' {seq['clicks']} clicks is {ratio:.2f}× "
                  f"eager's (p50 {fe:.0f} vs {fw:.0f} ms); table at one size: {table}", ratio < 1.0,
                  "" if ratio < 1.0 else f"{picks} was not faster than eager PyTorch on these clicks")


def _refine_target(seq: dict[str, Any], method: str, gc_iterations: int) -> Target:
    """The refinement the annotator runs by default, added to a click; GrabCut's cost on the same predictions
    is stated beside it (no NoC lost against it: resources/weights/MODEL_CARD.md)."""
    ra, ms = seq["refine_ratio"], seq["refine_ms"]
    measured = f"{_r(ra['p50'])} (p95 {_r(ra['p95'])}), {METHOD_NAMES[method]}"
    if "grabcut_option_ratio" in seq:
        g = seq["grabcut_option_ratio"]
        measured += f"; GrabCut on the same predictions {_r(g['p50'])} (p95 {_r(g['p95'])})"
    met = ra["p50"] <= TARGETS["refine_p50"]
    why = ""
    if not met and method == "grabcut":
        why = (f"GrabCut (models/grabcut.py: {gc_iterations} iterations on a crop around the object, widened and run "
               f"again where the object reaches the crop's edge) takes {ms['p50']:.0f} / {ms['p95']:.0f} ms p50 / "
               f"p95 on these photos; {GRABCUT_TRIED}")
    elif not met:
        why = f"colour refinement takes {ms['p50']:.0f} / {ms['p95']:.0f} ms p50 / p95 on these photos"
    return Target("refinement added to a click (p50), as the annotator runs it", f"≤ {TARGETS['refine_p50']}× the "
                  "forward, no NoC lost", measured, met, why)


def section(rec: dict[str, Any]) -> Section:
    """The RESULTS.md section of a record."""
    seq, pe, en = rec["sequences"], rec["peers"], rec["engines"]
    gc_iterations = grabcut.refine_iterations(bool(seq.get("settings", {}).get("snap")))  # as the predictor ran
    method = _method(seq)
    sec = Section("Click latency on real correction sequences (ratios to the plain forward)", block=BLOCK)
    fwd = seq["forward_ms"]
    rows = [["plain network forward (f-BRS off, no refinement)", f"{fwd['p50']:.0f} / {fwd['p95']:.0f} / "
             f"{fwd['max']:.0f}", "1.00× (reference)", "", ""]]
    labels = {"mask": f"click → mask ({METHOD_NAMES[method]}), as the annotator runs by default",
              "preview": "… before refinement (network + f-BRS + edge snapping)"
                         + (", the preview painted first" if method == "grabcut" else ""),
              "inputs": "… click maps", "network": "… backbone", "brs": "… f-BRS (head pass included)",
              "snap": "… edge snapping", "refine": f"… {METHOD_NAMES[method]}", "resize": "… resize to the image",
              "despeckle": "… specks removed (with refinement)",
              "grabcut_option": f"GrabCut refinement instead (Model → Refine with GrabCut; {gc_iterations} "
                                f"iterations), same snapped predictions"}
    for key, label in labels.items():
        if f"{key}_ms" not in seq:  # a record from before the stage existed
            continue
        ms, ra = seq[f"{key}_ms"], seq[f"{key}_ratio"]
        rows.append([label, f"{ms['p50']:.0f} / {ms['p95']:.0f} / {ms['max']:.0f}", _r(ra["p50"]), _r(ra["p95"]),
                     _r(ra["max"])])
    eng_ran = seq.get("engine_ran", "torch")
    if "mask_engine_ratio" in seq and eng_ran != "torch":
        fe = seq["forward_engine_ms"]
        rows.insert(1, [f"plain forward, backbone through the engine ({eng_ran})",
                        f"{fe['p50']:.0f} / {fe['p95']:.0f} / {fe['max']:.0f}", _r(fe["p50"] / fwd["p50"]), "", ""])
        for key in ("mask", "preview"):
            ra = seq[f"{key}_engine_ratio"]
            rows.append([f"{labels[key].split(',')[0].lstrip('… ')}, ratio to the engine's own plain forward", "",
                         _r(ra["p50"]), _r(ra["p95"]), _r(ra["max"])])
    neg = seq["brs_negative_inside_ratio"]
    rows.append([f"f-BRS on a negative click inside the selection (n={seq['brs_negative_inside_n']})", "",
                 _r(neg["p50"]), _r(neg["p95"]), _r(neg["max"])])
    sec.table(["per click (n=%d, sets: %s)" % (seq["clicks"], ", ".join(seq["sets"])), "ms p50 / p95 / max",
               "ratio p50", "ratio p95", "ratio max"], rows)
    if pe.get("ms"):
        ours = pe["ms"]["ours"]
        prow = [["ours (EfficientNet-Lite0 FCN-8s), per click = per image", f"{ours:.0f}", "1.00×", f"{ours:.0f}",
                 "1.00×"]]
        if "hrnet" in pe["ms"]:
            v = pe["ms"]["hrnet"]
            prow.append([pe["labels"]["hrnet"] + ", per click = per image", f"{v:.0f}", _r(v / ours), f"{v:.0f}",
                         _r(v / ours)])
        if "sam_decoder" in pe["ms"]:
            e, d = pe["sam_encoder_ms"], pe["ms"]["sam_decoder"]
            prow.append([pe["labels"]["sam"] + ", encoder at 1024 px per image, decoder per click", f"{e:.0f}",
                         _r(e / pe["sam_encoder_ours_ms"]), f"{d:.1f}", _r(d / ours)])
        sec.table([f"peers at {pe['size']} (interleaved, p50)", "per image ms", "vs ours", "per click ms",
                   "vs ours"], prow)
    for k, why in pe.get("skipped", {}).items():
        sec.notes.append(f"peer {k} skipped: {why}")
    erows = [[k, f"{en['ms'][k]:.1f}", f"{en['p95_ms'][k]:.1f}", _r(en["ms"][k] / en["ms"]["torch"]),
              f"{en['max_diff'][k]:.1e}", f"{en['compile_s'].get(k, 0):.1f}" if k != "torch" else "–"]
             for k in en["ms"]]
    sec.table([f"our network at {en['size']}, backbone engine (head in PyTorch)", "p50 ms", "p95 ms",
               "time vs eager", "max |Δprob|", "export + compile s"], erows)
    for k, why in en.get("skipped", {}).items():
        sec.notes.append(f"engine {k} skipped: {why}")
    sec.notes.append("The engines table times one input; on a 2-core machine its ratios moved between runs (two "
                     "thread pools, PyTorch's and the engine's, take turns on the same cores), so the engine target "
                     "is judged on the correction sequences' clicks, each run through eager PyTorch and through the "
                     "engine, interleaved.")
    sec.notes.append(
        f"Measured {rec['date']} at commit {rec['commit']} on {rec['cpu']} ({rec['cores']} logical cores), "
        f"{rec['torch_threads']} torch threads (OMP_NUM_THREADS {rec['omp_num_threads']}, the annotator's "
        f"default), nice {rec['nice']}, load average at start {rec['load_average']}"
        + (f", at the end {rec['load_average_end']}" if rec.get("load_average_end") else "")
        + (f" ({rec['load_note']})" if rec.get("load_note") else "")
        + f". Ratios are per click and interleaved, so load hits both sides alike. Data: {rec['data']}, "
        f"{seq['objects_per_set'] or 'all'} objects per set, image sizes {', '.join(seq['sizes'])}; annotator "
        f"settings {seq['settings']}" + (f", backbone run by {seq['engine_ran']}" if seq.get("engine_ran") else "")
        + ". The reference 'plain forward' is eager PyTorch (f-BRS off, no refinement) on the same clicks. "
        + _think_note(seq))
    sec.notes.append(f"CPU: {rec['cpu']}; {key_flags(rec['cpu_flags'])}. All flags: " + " ".join(rec["cpu_flags"]))
    sec.notes.append(
        "**What is reused between clicks:** the working-resolution resize and the image's normalisation "
        "(`Predictor.set_image`, once per image); the network output of a click list already seen (undo/redo, "
        "and with GrabCut the preview → GrabCut second stage, which runs no network); the engine's compiled graph "
        "and session "
        "(per input size, kept for 4 sizes, so also across images of one size); the photo's half of the guided "
        "filters of edge snapping and colour refinement (window means and inverse colour covariances, "
        "`edge_snap.GuideCache`: computed on the whole photo, at half resolution for snapping's fast filter, at "
        "its first use, cropped for later clicks) and its colour-histogram bins (colour refinement); the click "
        "maps of recent click lists (`clicks.DistanceMapCache`: a list one click longer costs that point's "
        "distances, as the map of a point set is the minimum of its points' maps). **What is not:** the backbone — "
        "the clicks enter at the first layer (distance maps concatenated with the RGB), so every activation "
        "changes with each click and the forward runs in full per click, unlike SAM, whose image encoder runs "
        "once per image and whose per-click cost is its small decoder. Only the RGB half of the first "
        "convolution could be precomputed (it is linear), a few per cent of one layer. f-BRS's Jacobian depends on the click list and the features, so it is rebuilt, "
        "but only at the fused map's cells the click discs read and kept factored (`brs.disc_jacobian`; pushing "
        "every feature channel through the head's upsamplings, as before, took 7-14 ms a call). BLAS runs on one "
        "thread in the predictor's process (`models.threads`): its spinning workers stalled PyTorch's next op by "
        "25-95 ms on about a third of the clicks. "
        "The colour models are relearnt from each click's prediction (two histogram counts, linear in the crop's "
        "pixels); GrabCut's too: OpenCV's `grabCut` re-initialises the GMMs from the mask it is given "
        "(GC_INIT_WITH_MASK), and keeping the previous click's models (GC_EVAL) would skip only the k-means "
        "initialisation while the crop and the mask change with every click.")
    en_fast = min(en["ms"], key=en["ms"].get)
    picks = rec.get("auto_picks", en_fast)  # what "auto" (the annotator's default) runs on this machine
    sec.targets += [
        Target("click → mask p95 on correction sequences, annotator defaults", f"≤ {TARGETS['p95']}× the forward",
               _r(seq["mask_ratio"]["p95"]) + _vs_engine(seq, "p95"), seq["mask_ratio"]["p95"] <= TARGETS["p95"],
               _engine_note(seq, "p95")),
        Target("click → mask p50, same", f"≤ {TARGETS['p50']}× the forward",
               _r(seq["mask_ratio"]["p50"]) + _vs_engine(seq, "p50"), seq["mask_ratio"]["p50"] <= TARGETS["p50"],
               _engine_note(seq, "p50")),
        Target("f-BRS worst case (negative click inside the selection)", f"≤ {TARGETS['brs_max']}× the forward",
               _r(neg["max"]) + f" (all clicks: max {_r(seq['brs_ratio']['max'])})",
               None if not np.isfinite(neg["max"]) else max(neg["max"], seq["brs_ratio"]["max"]) <= TARGETS["brs_max"],
               f"the f-BRS stage includes the head's first pass, building its Jacobian (one sparse product per "
               f"feature stride since ff6edf4; before, a gather that grew with the clicks: 171 ms at 20 clicks) "
               f"and the L-BFGS evaluations (models/brs.py: time_ratio × the backbone's time, never before "
               f"min_evals evaluations; at most {seq.get('brs_evals_max', '?')} ran here)"
               if np.isfinite(neg["max"]) and max(neg["max"], seq["brs_ratio"]["max"])
               > TARGETS["brs_max"] else ""),
        _refine_target(seq, method, gc_iterations),
        _engine_target(seq, en, picks, en_fast),
    ]
    return sec


def load_store() -> dict[str, Any] | None:
    """The stored record, or None."""
    try:
        rec = json.loads(STORE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and rec.get("format") == "ifcn-bench-latency-real" else None


def run(data: str | None = None) -> Section:
    """Measure, store the record and return the section."""
    from benchmarks.bench_quality import bench_data_from_env
    from models.fileio import atomic_write_text

    t0 = time.perf_counter()
    rec = measure(data or bench_data_from_env(), limit_from_env())
    rec["seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write_text(STORE, json.dumps(rec, indent=1) + "\n")
    sec = section(rec)
    sec.notes.append(f"Stored in `{STORE.relative_to(ROOT)}`.")
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    if "--render" in sys.argv[1:]:  # the stored record's section into RESULTS.md again, measuring nothing
        from benchmarks.run_all import RESULTS, splice
        from models.fileio import atomic_write_text

        stored = load_store()
        if stored is None:
            raise SystemExit(f"no stored record at {STORE}")
        sec = section(stored)
        sec.notes.append(f"Stored in `{STORE.relative_to(ROOT)}`.")
        sec.seconds = float(stored.get("seconds", 0.0))
        atomic_write_text(RESULTS, splice(RESULTS.read_text(encoding="utf-8"), sec))
        print(sec.markdown())
    else:
        print(run().markdown())
