"""Run every benchmark and write benchmarks/RESULTS.md (`make bench`).

    python -m benchmarks.run_all                  # everything (< 15 min on 2 cores)
    BENCH_QUICK=1 python -m benchmarks.run_all    # few repetitions, for developing the scripts
    python -m benchmarks.run_all --only latency gui --out /tmp/r.md       # other sections: --out (RESULTS.md is whole)
    python -m benchmarks.run_all --bench-data ../shared/data/bench   # also the real-photo quality (hours)
    python -m benchmarks.run_all --only quality --bench-data ../shared/data/bench
    python -m benchmarks.run_all --only latency_real [--bench-data DIR]   # replaces its block of RESULTS.md
    python -m benchmarks.run_all --only refine_cost                       # likewise

The real-photo quality section (benchmarks/bench_quality.py) runs only when benchmark data is given
(--bench-data or BENCH_DATA); otherwise RESULTS.md shows the one stored by its last full run. Its section
and targets sit between markers in RESULTS.md, so `--only quality` replaces them there and keeps the rest.
"""
from __future__ import annotations

import argparse
import os
import re
import time
import traceback
from typing import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.common import QUICK, Section, has_trained_default, machine_info, markdown_table  # noqa: E402
from models.errors import IFCNError  # noqa: E402
from models.fileio import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BENCHMARKS = ("latency", "latency_real", "refine_cost", "optim", "gui", "switch", "pairs", "noc", "train", "quality")
#: Benchmarks whose section sits between markers in RESULTS.md: `--only` of these replaces their blocks alone.
SPLICED = ("latency_real", "refine_cost", "switch")
TARGETS_NOTE = "Causes of the gaps are in the notes of each section below."


def _run_one(name: str, **kwargs) -> Section:
    import importlib

    mod = importlib.import_module(f"benchmarks.bench_{name}")
    t0 = time.perf_counter()
    try:
        return mod.run(**kwargs)
    except Exception as e:  # one broken benchmark must not lose the others' numbers
        sec = Section(f"{name}: FAILED")
        sec.notes.append(f"{type(e).__name__}: {e}")
        sec.notes.append("```\n" + traceback.format_exc()[-2000:] + "\n```")
        sec.seconds = time.perf_counter() - t0
        return sec


def _run_isolated(name: str, runner: Callable[..., Section] | None = None, **kwargs) -> Section:
    """`_run_one` in a fresh interpreter (multiprocessing spawn): what one section leaves in its process (engine
    thread pools, forked workers, a native crash) cannot reach the next one. In one process, `refine_cost` (an
    OpenVINO engine compiled in the foreground) followed by `train` or `quality` died with SIGSEGV."""
    import concurrent.futures
    import multiprocessing

    t0 = time.perf_counter()
    try:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(runner or _run_one, name, **kwargs).result()
    except Exception as e:  # the section's process died or could not start: the others' numbers stay
        sec = Section(f"{name}: FAILED")
        sec.notes.append(f"the section's process ended without a result: {type(e).__name__}: {e}")
        sec.seconds = time.perf_counter() - t0
        return sec


def _targets_table(sections: list[Section]) -> str:
    rows = []
    for sec in sections:
        for t in sec.targets:
            met = "–" if t.met is None else ("met" if t.met else "**not met**")
            rows.append([t.benchmark, t.target, t.measured, met, t.note or ""])
    return markdown_table(["benchmark", "target", "measured", "status", "gap and cause"], rows)


def marked(name: str, body: str) -> str:
    """`body` between the markers of block `name`."""
    return f"<!-- {name}:begin -->\n{body.rstrip()}\n<!-- {name}:end -->"


def block_targets(sec: Section) -> str:
    """The targets sub-table of a kept section (its own table: it may come from another run)."""
    return marked(f"{sec.block}-targets", f"### {sec.title}\n\n{_targets_table([sec])}\n")


def render(sections: list[Section], info: dict[str, str], seconds: float) -> str:
    """The whole RESULTS.md."""
    out = ["# Benchmark results", "",
           "Written by `make bench` (`python -m benchmarks.run_all`); do not edit by hand. Timings are wall-clock "
           "on the CPU; p50/p95 are over repeated runs after warm-up. Variants compared with each other run "
           "interleaved in one process, so their ratios hold even when the machine is busy; absolute numbers "
           "depend on the load (see the load average below).", ""]
    if QUICK:
        out += ["**BENCH_QUICK=1: few repetitions, numbers indicative only.**", ""]
    if not has_trained_default():
        out += ["**No shipped default model (resources/weights/default.pt) was present: the default-model rows "
                "use an ImageNet-initialised EfficientNet-Lite0 FCN-8s built in memory (same architecture and "
                "compute).**", ""]
    out += ["## Machine", "", markdown_table(["", ""], [[k, v] for k, v in info.items()] +
                                            [["total wall time", f"{seconds / 60:.1f} min"]]), ""]
    plain = [s for s in sections if not s.block]
    kept = [s for s in sections if s.block]
    out += ["## Targets", "", _targets_table(plain), "", TARGETS_NOTE, ""]
    out += [block_targets(sec) + "\n" for sec in kept]
    out += [sec.markdown() for sec in plain]
    out += [marked(sec.block, sec.markdown()) + "\n" for sec in kept]
    return "\n".join(out)


def splice(text: str, sec: Section) -> str:
    """RESULTS.md `text` with the kept section `sec` and its targets replaced (or added when missing)."""
    for name, body, after in ((f"{sec.block}-targets", block_targets(sec), TARGETS_NOTE),
                              (sec.block, marked(sec.block, sec.markdown()), None)):
        pat = re.compile(rf"<!-- {re.escape(name)}:begin -->.*?<!-- {re.escape(name)}:end -->", re.S)
        if pat.search(text):
            text = pat.sub(lambda _m: body, text, count=1)
        elif after is not None and after in text:
            i = text.index(after) + len(after)
            text = text[:i] + "\n\n" + body + text[i:]
        else:
            text = text.rstrip("\n") + "\n\n" + body + "\n"
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print each section, write RESULTS.md."""
    from benchmarks import bench_quality

    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    ap.add_argument("--out", default=None, help=f"where to write the results (default {RESULTS})")
    ap.add_argument("--bench-data", default=bench_quality.bench_data_from_env(), metavar="DIR",
                    help="real-photo benchmark sets (object folders, e.g. ../shared/data/bench) for the quality "
                         "section (default: $BENCH_DATA; without it the stored section is shown)")
    ap.add_argument("--quality-limit", type=int, default=None, metavar="N",
                    help="objects per set in the quality section, for developing it (default: "
                         "$BENCH_QUALITY_LIMIT or all); a limited run stores nothing")
    ap.add_argument("--isolate", action="store_true",
                    help="run each section in a fresh interpreter (spawn); its numbers were not trusted yet: torch "
                         "ran several times slower there on 2026-12-04")
    args = ap.parse_args(argv)
    try:
        limit = args.quality_limit if args.quality_limit is not None else bench_quality.limit_from_env()
    except IFCNError as e:
        ap.error(str(e))
    limit = limit or None  # 0 = every object
    names = list(args.only or BENCHMARKS)
    partial = [n for n in names if n not in SPLICED and n != "quality"]
    if args.only and partial and not set(names) >= set(BENCHMARKS) - {"quality"} and args.out is None \
            and RESULTS.is_file():
        # those sections are not between markers: RESULTS.md would be rewritten without every section not run
        ap.error(f"--only {' '.join(partial)} would rewrite {RESULTS.name} without the sections it does not run; "
                 f"give --out FILE, run them all (no --only, or every one but quality), or only spliced ones "
                 f"({', '.join(SPLICED)}, quality)")
    if "quality" in names and not args.bench_data:
        if args.only:
            ap.error("--only quality needs the benchmark data: --bench-data DIR or BENCH_DATA=DIR")
        names.remove("quality")
    out = Path(args.out) if args.out else RESULTS
    info = machine_info()
    t0 = time.perf_counter()
    sections = []
    for name in names:
        print(f"== {name} ...", flush=True)
        kwargs = {"data": args.bench_data, "limit": limit} if name == "quality" else \
            {"data": args.bench_data} if name == "latency_real" else {}
        sec = _run_isolated(name, **kwargs) if args.isolate else _run_one(name, **kwargs)
        print(sec.markdown(), flush=True)
        sections.append(sec)
    quality = next((s for s in sections if s.block == bench_quality.BLOCK), None)  # None when it failed
    if limit and quality is not None and args.out is None:
        # a development run never replaces the stored numbers in RESULTS.md
        print(f"(a limited quality run: {RESULTS.name} keeps the stored real-photo section)")
        sections.remove(quality)
        quality = None
    if quality is None:
        stored = bench_quality.stored_section()
        if stored is not None:
            sections.append(stored)
    if set(names) <= set(SPLICED) and args.out is None and RESULTS.is_file():
        text = RESULTS.read_text(encoding="utf-8")
        ran = sections[:len(names)]
        for sec in ran:  # their blocks alone are replaced; a failed one keeps its stored block
            if sec.block:
                text = splice(text, sec)
        if not any(sec.block for sec in ran):
            print(f"{RESULTS.name} left as it was: {', '.join(names)} failed")
            return 1
    elif names == ["quality"] and args.out is None:
        if quality is None:
            failed = any(s.title == "quality: FAILED" for s in sections)
            print(f"{RESULTS.name} left as it was ({(time.perf_counter() - t0) / 60:.1f} min)")
            return 1 if failed else 0
        text = splice(RESULTS.read_text(encoding="utf-8"), quality) if RESULTS.is_file() \
            else render(sections, info, time.perf_counter() - t0)
    else:
        text = render(sections, info, time.perf_counter() - t0)
    atomic_write_text(out, text)
    print(f"wrote {out} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
