"""Real-photo quality: NoC@85/@90, failures and mIoU after 1/3/5 clicks on benchmark sets of real photos.

    make bench BENCH_DATA=../shared/data/bench                      # every benchmark, this one included
    python -m benchmarks.run_all --only quality --bench-data ../shared/data/bench
    BENCH_QUALITY_LIMIT=3 python -m benchmarks.run_all --only quality --bench-data DIR --out /tmp/r.md

Every set found in the data folder (an object folder, `images/` + `masks/<stem>_<k>.png`, or a folder of
them such as GrabCut/ and Berkeley/) is measured with `training.noc.evaluate` (the protocol of `ifcn noc`,
20 clicks at most) for these predictors: the default predictor as the annotator runs it by default (its
settings read from `resources/default_settings.json`), the same with GrabCut refinement instead of colour
refinement (Model → Refine with GrabCut), its network alone (no f-BRS, no refinement), its network with edge
snapping, and GrabCut from clicks. Each set x predictor writes summary.json, per_object.csv and its mIoU plot under
runs/bench_quality/<time>/ (git-ignored). A run over every object also stores its numbers in
benchmarks/results_real.json (committed), from which RESULTS.md renders this section when a later
`make bench` runs without BENCH_DATA. A run limited by BENCH_QUALITY_LIMIT is for developing the script:
its targets are not judged and it stores nothing but its runs/ folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Section, Target, machine_info
from models.errors import DatasetError, IFCNError

#: Where a run over every object stores its numbers (committed: RESULTS.md renders from it).
STORE = Path(__file__).resolve().parent / "results_real.json"
#: Where each run writes its per-object CSVs (git-ignored).
RUNS_DIR = ROOT / "runs" / "bench_quality"
FORMAT = "ifcn-bench-real"
#: The marked block of RESULTS.md this section renders into (see benchmarks.run_all).
BLOCK = "real-photo"

#: Published NoC@90 (GrabCut, Berkeley); 20 clicks max.
PUBLISHED = (
    ("iFCN + graph cut (Xu et al. 2016)", 6.04, 8.65),
    ("RITM HRNet-18, trained on SBD (Sofiiuk et al. 2022)", 2.04, 3.22),
    ("RITM HRNet-18, trained on COCO+LVIS (Sofiiuk et al. 2022)", 1.54, 2.26),
)
#: Targets of issue 14 (NoC@90 by predictor and set), and the share of objects that may fail at 90 %.
NOC90_TARGETS = {("default", "grabcut"): 3.0, ("default", "berkeley"): 5.0,
                 ("network", "grabcut"): 4.0, ("network", "berkeley"): 6.5}
FAILED_TARGET = 0.03
#: Short predictor names for the target rows (the tables give the settings).
SHORT = {"default": "default predictor as the annotator runs it",
         "default_grabcut": "default predictor with GrabCut refinement", "network": "its network alone",
         "network_whole": "its network alone on the whole image", "network_snap": "its network with edge snapping",
         "grabcut": "GrabCut from clicks"}


@dataclass(frozen=True)
class Variant:
    """One predictor under test: how to build it (training.noc.load_predictor) and whether to refine."""

    key: str
    label: str
    checkpoint: str | None
    refine: bool
    brs: bool
    zoom_in: int
    max_size: int
    device: str
    snap: bool = False
    refine_method: str = "colour"


def variants() -> list[Variant]:
    """The default predictor as the annotator runs it by default (and with GrabCut refinement instead when the
    default is colour refinement), its network alone, with edge snapping, GrabCut from clicks."""
    from models.colour_refine import REFINE_LABELS
    from annotator.settings import default_settings
    from models.predictor import ZoomIn

    s = default_settings()
    zoom = ZoomIn().target if s.zoom_in else 0
    parts = [("f-BRS" if s.brs else "no f-BRS"), ("edge snapping" if s.snap else "no edge snapping"),
             (REFINE_LABELS[s.refine_method] if s.refine else "no refinement"),
             (f"zoom-in {zoom}" if zoom else "whole image"), f"max size {s.max_size}"]
    out = [Variant("default", f"default as the annotator runs it ({', '.join(parts)})", None, s.refine, s.brs,
                   zoom, s.max_size, s.device, snap=s.snap, refine_method=s.refine_method)]
    if s.refine and s.refine_method != "grabcut":
        parts[2] = "GrabCut refinement"
        out.append(Variant("default_grabcut", f"the same with GrabCut refinement ({', '.join(parts)})", None, True,
                           s.brs, zoom, s.max_size, s.device, snap=s.snap, refine_method="grabcut"))
    view = f", zoom-in {zoom}" if zoom else ", whole image"
    out.append(Variant("network", f"its network alone (no f-BRS, no edge snapping, no refinement{view})", None,
                       False, False, zoom, s.max_size, s.device))
    if zoom:  # the network as it was measured before zoom-in was on by default
        out.append(Variant("network_whole", "its network alone on the whole image (no zoom-in, no f-BRS, no edge "
                           "snapping, no refinement)", None, False, False, 0, s.max_size, s.device))
    return out + [
        Variant("network_snap", f"its network with edge snapping (no f-BRS, no refinement{view})", None, False,
                False, zoom, s.max_size, s.device, snap=True),
        Variant("grabcut", "GrabCut from clicks (no network)", "grabcut", False, False, 0, s.max_size, s.device),
    ]


def _settings() -> dict[str, Any]:
    """The annotator's default inference settings the run used (for the record)."""
    from annotator.settings import default_settings

    s = default_settings()
    return {"refine": s.refine, "refine_method": s.refine_method, "brs": s.brs, "snap": s.snap, "zoom_in": s.zoom_in, "max_size": s.max_size,
            "threshold": s.threshold}


def find_sets(data: str | os.PathLike) -> list[Any]:
    """The object folders of `data`: itself, or its sub-folders (DatasetError when there is none)."""
    from training.layouts import LAYOUT_COLLECTION, LAYOUT_OBJECTS, ObjectFolder, detect_layout

    root = Path(data)
    layout = detect_layout(root)
    if layout == LAYOUT_OBJECTS:
        return [ObjectFolder(root / "images")]
    if layout != LAYOUT_COLLECTION:
        raise DatasetError(f"{root}: the real-photo benchmark reads object folders (images/ + "
                           f"masks/<stem>_<k>.png) or a folder of them; this is a {layout}.")
    sets = []
    for d in sorted(root.iterdir()):
        if (d / "images").is_dir() and (d / "masks").is_dir() and detect_layout(d) == LAYOUT_OBJECTS:
            sets.append(ObjectFolder(d / "images"))
    return sets


def checkpoint_hash(path: Path | None = None) -> str | None:
    """First 12 hex digits of the sha256 of the shipped default model (None when there is none)."""
    from resources import DEFAULT_CHECKPOINT

    path = Path(path or DEFAULT_CHECKPOINT)
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def measure(data: str | os.PathLike, limit: int | None = None, out_dir: Path | None = None,
            chosen: list[Variant] | None = None) -> dict[str, Any]:
    """Run every variant on every set of `data`; the record that results_real.json stores."""
    from resources import DEFAULT_CHECKPOINT
    from training.noc import evaluate, load_predictor, write_outputs

    sets = find_sets(data)
    if not sets:
        raise DatasetError(f"{data}: no object folder (images/ + masks/<stem>_<k>.png) found.")
    chosen = chosen if chosen is not None else variants()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = Path(out_dir) if out_dir is not None else RUNS_DIR / stamp
    info = machine_info()
    digest = checkpoint_hash()
    record: dict[str, Any] = {
        "format": FORMAT, "version": 1, "date": info["date"], "commit": info["commit"],
        "machine": {k: info[k] for k in ("cpu", "gpu", "os", "torch")},
        "checkpoint": {"path": str(DEFAULT_CHECKPOINT.relative_to(ROOT)) if digest else None,
                       "sha256_12": digest},
        "data": str(data), "limit": limit,
        "per_object": str(out_dir.relative_to(ROOT) if out_dir.is_relative_to(ROOT) else out_dir),
        "predictors": {v.key: v.label for v in chosen}, "settings": _settings(), "sets": {}}
    previous = load_store() or {}
    skip = skip_from_env()
    for folder in sets:
        entry: dict[str, Any] = {"runs": {}}
        for v in chosen:
            if v.key in skip:
                continue
            old = _reusable(previous, folder.name, v.key, data, limit)
            if old is not None:  # GrabCut from clicks does not depend on the model: measured once per data
                entry["runs"][v.key] = old
                entry.setdefault("objects", old.get("objects"))
                entry.setdefault("images", old.get("images"))
                continue
            predictor = load_predictor(v.checkpoint, device=v.device, max_size=v.max_size,
                                       zoom_target=v.zoom_in, brs=v.brs, snap=v.snap, refine_method=v.refine_method)
            if v.checkpoint is None and predictor.is_classical:
                raise IFCNError("no default model (resources/weights/default.pt): nothing to measure but "
                                "GrabCut.")
            print(f"  {folder.name}: {v.label} ...", file=sys.stderr, flush=True)
            res = evaluate(predictor, folder, split="all", refine=v.refine, limit=limit,
                           show_bar=sys.stderr.isatty())
            res.info.update({"set": folder.name, "predictor": v.key, "checkpoint_sha256_12": digest})
            write_outputs(out_dir / folder.name / v.key, res)
            s = res.summary()
            entry["runs"][v.key] = {k: s[k] for k in ("noc@85", "noc@90", "failed@85", "failed@90", "objects",
                                                      "images", "skipped_images", "seconds", "miou_per_click",
                                                      "corrections", "setbacks")}
            entry["objects"], entry["images"] = s["objects"], s["images"]
        record["sets"][folder.name] = entry
    return record


#: Predictors whose results depend on the data only, not on the shipped model.
MODEL_FREE = ("grabcut",)


def skip_from_env() -> set[str]:
    """BENCH_QUALITY_SKIP: predictor keys not to run (e.g. "grabcut": ~80 min on 2 cores)."""
    return {k.strip() for k in os.environ.get("BENCH_QUALITY_SKIP", "").split(",") if k.strip()}


def _reusable(record: dict[str, Any], set_name: str, key: str, data: Any, limit: int | None) -> dict | None:
    """A model-free run of the stored record on the same set (same folder name and limit), marked reused."""
    if key not in MODEL_FREE or record.get("limit") != limit:
        return None
    if Path(str(record.get("data", ""))).name != Path(str(data)).name:
        return None
    run = ((record.get("sets") or {}).get(set_name) or {}).get("runs", {}).get(key)
    if not run:
        return None
    return {**run, "reused_from": run.get("reused_from") or record.get("date")}


def load_store(path: Path | None = None) -> dict[str, Any] | None:
    """The stored record of the last full run (default STORE), or None when there is none or it is unreadable."""
    try:
        record = json.loads(Path(path or STORE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("format") == FORMAT else None


def save_store(record: dict[str, Any], path: Path | None = None) -> None:
    """Write the record to `path` (default STORE), atomically."""
    from models.fileio import atomic_write_text

    atomic_write_text(path or STORE, json.dumps(record, indent=2) + "\n")


def _fmt(v: Any, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def section(record: dict[str, Any], stored: bool = False, current_hash: str | None = "") -> Section:
    """The RESULTS.md section of a record: tables, published numbers, targets.

    `stored`: the record comes from results_real.json rather than from this run; `current_hash`: the
    shipped default model's hash now ("" = do not compare)."""
    limit = record.get("limit")
    title = "Real photos: NoC on the benchmark sets"
    if limit:
        title += f" (development run, {limit} objects per set)"
    elif stored:
        title += f" (stored run of {str(record.get('date', '?'))[:10]})"
    sec = Section(title, block=BLOCK)
    labels = record.get("predictors", {})
    sets = record.get("sets", {})
    rows = []
    for name, entry in sets.items():
        for key, r in entry["runs"].items():
            m = r.get("miou_per_click") or []
            pick = lambda k: _fmt(m[min(k, len(m)) - 1], 3) if m else "–"  # noqa: E731
            n = r.get("objects") or 0
            share = lambda f: f"{f} ({f / n * 100:.0f} %)" if n else str(f)  # noqa: E731
            c = r.get("corrections") or {}
            missed = f"{c['intent_missed']} of {c['regions_over_500px']}" if "intent_missed" in c else "–"
            sb = r.get("setbacks") or {}
            setback = share(sb["objects"]) if "objects" in sb else "–"
            rows.append([name, labels.get(key, key), n, _fmt(r.get("noc@85")), _fmt(r.get("noc@90")),
                         share(r.get("failed@85", 0)), share(r.get("failed@90", 0)), pick(1), pick(3), pick(5),
                         missed, setback, _fmt((r.get("seconds") or 0) / n, 1) if n else "–"])
    reused = sorted({f"{name} / {labels.get(key, key)} ({r['reused_from']})" for name, entry in sets.items()
                     for key, r in entry["runs"].items() if r.get("reused_from")})
    if reused:
        sec.notes.append("Model-free rows reused from an earlier full run on the same data: " + "; ".join(reused) + ".")
    sec.table(["set", "predictor", "objects", "NoC@85", "NoC@90", "failed@85", "failed@90", "mIoU@1", "mIoU@3",
               "mIoU@5", "intent missed", "set back", "s / object"], rows)
    sec.notes.append("Intent missed: corrective clicks placed in an error region of 500 px or more that the next "
                     "prediction left under 10 % fixed (the click honoured by a disc around it while the region "
                     "the user pointed at stays wrong), of all corrective clicks in such regions; "
                     "`training.noc.NocResult.corrections`. Set back: objects where a click lowered the IoU by "
                     "more than 0.1 (the mask got visibly worse after a correction); `NocResult.setbacks`.")
    by_set = {name.lower(): name for name in sets}
    cols = [by_set.get("grabcut"), by_set.get("berkeley")]
    if any(cols):
        comp = [[f"{label} (published)", f"{g:.2f}", f"{b:.2f}"] for label, g, b in PUBLISHED]
        for key, label in labels.items():
            comp.append([f"**{label}** (this run)", *[
                _fmt(sets[c]["runs"].get(key, {}).get("noc@90")) if c else "–" for c in cols]])
        sec.table(["NoC@90, 20 clicks max", "GrabCut", "Berkeley"], comp)
    ck = record.get("checkpoint") or {}
    m = record.get("machine") or {}
    sec.notes.append(f"Measured {record.get('date', '?')} at commit {record.get('commit', '?')} on "
                     f"{m.get('cpu', '?')} (GPU: {m.get('gpu', '?')}); default model {ck.get('path')} sha256 "
                     f"{ck.get('sha256_12')}…; data `{record.get('data')}`; per-object CSVs in "
                     f"`{record.get('per_object')}`.")
    if stored:
        sec.notes.append("Stored by the last full run in `benchmarks/results_real.json`, not re-measured by this "
                         "`make bench` (run `make bench BENCH_DATA=DIR` to measure again).")
        if current_hash != "" and current_hash != ck.get("sha256_12"):
            sec.notes.append(f"**Stale:** the shipped default model has changed since (sha256 now "
                             f"{current_hash}…); these numbers are the old model's.")
    sec.notes.append("Protocol of `ifcn noc` (`training.noc.evaluate`): first click at the object's interior "
                     "point, each next click at the centre of the largest error region, 128-valued mask pixels "
                     "left out of the IoU and of click placement; an object that never reaches the target "
                     "within 20 clicks counts 20 and is failed; mIoU@k carries an object's last IoU forward "
                     "after it reached 90 %.")
    threshold = (record.get("settings") or {}).get("threshold", 0.5)
    if threshold != 0.5:
        sec.notes.append(f"The annotator's mask threshold is {threshold:g}; the protocol thresholds at 0.5.")
    if limit:
        sec.notes.append(f"Development run limited to {limit} objects per set (BENCH_QUALITY_LIMIT): the "
                         "numbers say nothing about the model and the targets are not judged.")
    sec.targets.extend(_targets(record))
    return sec


def _targets(record: dict[str, Any]) -> list[Target]:
    """Target rows of issue 14: NoC@90 per set and predictor, failures at 90 % per set."""
    judged = not record.get("limit")
    labels = record.get("predictors", {})
    out: list[Target] = []
    for (key, set_key), goal in NOC90_TARGETS.items():
        name = next((n for n in record.get("sets", {}) if n.lower() == set_key), None)
        run = record["sets"][name]["runs"].get(key) if name else None
        if run is None or run.get("noc@90") is None:
            continue
        v = run["noc@90"]
        ok = v <= goal if judged else None
        note = "" if ok is not False else (f"{v - goal:.2f} clicks over; {run['failed@90']} of "
                                           f"{run['objects']} objects never reach 90 %")
        out.append(Target(f"{name} NoC@90, {SHORT.get(key, labels.get(key, key))}", f"≤ {goal:g}", f"{v:.2f}",
                          ok, note))
    for name, entry in record.get("sets", {}).items():
        run = entry["runs"].get("default")
        if run is None or not run.get("objects"):
            continue
        share = run["failed@90"] / run["objects"]
        ok = share <= FAILED_TARGET if judged else None
        out.append(Target(f"{name}: objects failing 90 % at 20 clicks, {SHORT['default']}",
                          f"≤ {FAILED_TARGET * 100:g} %", f"{run['failed@90']} of {run['objects']} "
                          f"({share * 100:.1f} %)", ok, "" if ok is not False else
                          "see the per-object CSV for which objects fail"))
    return out


def stored_section() -> Section | None:
    """The section of the stored full run (None when there is none)."""
    record = load_store()
    return None if record is None else section(record, stored=True, current_hash=checkpoint_hash())


def bench_data_from_env() -> str | None:
    """BENCH_DATA from the environment (None when unset or empty)."""
    return os.environ.get("BENCH_DATA") or None


def limit_from_env() -> int | None:
    """BENCH_QUALITY_LIMIT from the environment: objects per set (None = all)."""
    raw = os.environ.get("BENCH_QUALITY_LIMIT", "").strip()
    if not raw or raw == "0":
        return None
    try:
        n = int(raw)
    except ValueError:
        raise DatasetError(f"BENCH_QUALITY_LIMIT={raw!r}: give a number of objects per set.") from None
    if n < 1:
        raise DatasetError(f"BENCH_QUALITY_LIMIT={raw!r}: give a positive number of objects per set.")
    return n


def run(data: str | None = None, limit: int | None = None) -> Section:
    """Measure, store a full run's record in STORE, and return the section."""
    t0 = time.perf_counter()
    data = data or bench_data_from_env()
    if not data:
        raise DatasetError("no benchmark data: give BENCH_DATA=DIR (make bench) or --bench-data DIR.")
    limit = limit if limit is not None else limit_from_env()
    record = measure(data, limit=limit)
    record["seconds"] = round(time.perf_counter() - t0, 1)
    if not limit:
        save_store(record)
    sec = section(record)
    if not limit:
        where = STORE.relative_to(ROOT) if STORE.is_relative_to(ROOT) else STORE
        sec.notes.append(f"Stored in `{where}`: a later `make bench` without BENCH_DATA shows this section.")
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    print(run().markdown())
