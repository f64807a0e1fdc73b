"""Run every benchmark and write benchmarks/RESULTS.md (`make bench`).

    python -m benchmarks.run_all                  # everything (< 15 min on 2 cores)
    BENCH_QUICK=1 python -m benchmarks.run_all    # few repetitions, for developing the scripts
    python -m benchmarks.run_all --only latency gui --out /tmp/r.md
"""
from __future__ import annotations

import argparse
import os
import time
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.common import QUICK, Section, has_trained_default, machine_info, markdown_table  # noqa: E402
from models.fileio import atomic_write_text  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BENCHMARKS = ("latency", "optim", "gui", "pairs", "noc", "train")


def _run_one(name: str) -> Section:
    import importlib

    mod = importlib.import_module(f"benchmarks.bench_{name}")
    t0 = time.perf_counter()
    try:
        return mod.run()
    except Exception as e:  # one broken benchmark must not lose the others' numbers
        sec = Section(f"{name}: FAILED")
        sec.notes.append(f"{type(e).__name__}: {e}")
        sec.notes.append("```\n" + traceback.format_exc()[-2000:] + "\n```")
        sec.seconds = time.perf_counter() - t0
        return sec


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
    rows = []
    for sec in sections:
        for t in sec.targets:
            met = "–" if t.met is None else ("met" if t.met else "**not met**")
            rows.append([t.benchmark, t.target, t.measured, met, t.note or ""])
    out += ["## Targets", "", markdown_table(["benchmark", "target", "measured", "status", "gap and cause"], rows),
            "", "Causes of the gaps are in the notes of each section below.", ""]
    out += [sec.markdown() for sec in sections]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print each section, write RESULTS.md."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    ap.add_argument("--out", default=str(RESULTS), help=f"where to write the results (default {RESULTS})")
    args = ap.parse_args(argv)
    info = machine_info()
    t0 = time.perf_counter()
    sections = []
    for name in args.only or BENCHMARKS:
        print(f"== {name} ...", flush=True)
        sec = _run_one(name)
        print(sec.markdown(), flush=True)
        sections.append(sec)
    text = render(sections, info, time.perf_counter() - t0)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out} ({(time.perf_counter() - t0) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
