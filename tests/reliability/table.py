"""The README's Reliability table: figures written by the test run, copied into README.md on request.

A session in which every test of tests/reliability ran and passed writes its figures to FIGURES (under
the git-ignored build/); the suite never touches the tracked README. `make reliability-table` (or
`python -m tests.reliability.table`) copies the last full run's figures between the README markers.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

from models.fileio import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FIGURES = Path(os.environ.get("IFCN_RELIABILITY_FIGURES", ROOT / "build" / "reliability" / "figures.json"))
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"

ROWS = (
    ("kills", "kill -9 of the annotator at random moments, restarted each time"),
    ("saves_confirmed", "saves confirmed by the annotator during those runs"),
    ("train_kills", "kills of `ifcn train` (mid-epoch and mid-checkpoint-write), each resumed"),
    ("hostile_files", "hostile or broken files tried on the readers, the CLI and the annotator (a file "
                      "fed to several of them counts once per test)"),
    ("hostile_read", "… of which read, not refused: valid despite their looks (a pickle memo at index 2³¹−1), "
                     "or bad only in weight values, which `ifcn info` does not load"),
    ("files_fuzzed", "files fuzzed (random byte flips / truncations / JSON mutations)"),
    ("inputs", "inputs tried (clicks, disk faults, property-test examples)"),
    ("lost", "**annotations lost**"),
)
#: Rows computed from the stored figures: (after which key, text, value).
REFUSED = ("hostile_read", "… of which refused (or reported) cleanly: a message naming the file, no traceback, "
           "within the tests' memory and time limits",
           lambda f: int(f.get("hostile_files", 0)) - int(f.get("hostile_read", 0)))
CRASHES = ("hostile_read", "crashes, hangs or tracebacks (a run with any fails and stores no figures)",
           lambda f: 0)


def write_figures(figures: Counter, path: Path | None = None) -> Path:
    """Store the figures of a full, passing run (with when it ran) at `path` (FIGURES by default)."""
    path = Path(path) if path is not None else FIGURES
    doc = {"figures": {k: int(figures[k]) for k, _ in ROWS}, "run": time.strftime("%Y-%m-%d %H:%M")}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return path


def render_section(f: Counter | dict) -> str:
    """The README text between the markers."""
    rows = []
    for k, text in ROWS:
        rows.append(f"| {text} | {int(f.get(k, 0)):,} |")
        rows += [f"| {t} | {value(f):,} |" for after, t, value in (REFUSED, CRASHES) if after == k]
    return "\n".join([
        "Figures of the last full run of `tests/reliability/` (`make test` writes them to",
        "`build/reliability/figures.json`, `make reliability-table` copies them here), not by hand;",
        "each counts what the tests exercised. The longer soak is `python -m benchmarks.soak_reliability`.",
        "",
        "| what | count |",
        "|---|---|",
        *rows,
    ])


def update_readme(figures_path: Path | None = None, readme: Path | None = None) -> str:
    """Copy the stored figures into the README; returns what happened (ValueError when impossible)."""
    figures_path, readme = figures_path or FIGURES, readme or README
    try:
        doc = json.loads(figures_path.read_text(encoding="utf-8"))
        figures = doc["figures"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{figures_path}: no figures yet: run the whole of tests/reliability/ first "
                         "(make test)") from None
    if figures.get("lost", 0):
        raise ValueError(f"{figures_path}: that run lost annotations; the README is not updated")
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme}: no {BEGIN} ... {END} section")
    new = pattern.sub(lambda _m: f"{BEGIN}\n{render_section(figures)}\n{END}", text, count=1)
    if new == text:
        return f"{readme}: already shows the run of {doc.get('run', '?')}"
    atomic_write_text(readme, new)
    return f"{readme}: figures of the run of {doc.get('run', '?')} copied"


def main() -> int:
    """Command line: copy the figures into README.md."""
    try:
        print(update_readme())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
