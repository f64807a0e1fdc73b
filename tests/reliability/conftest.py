"""Reliability tests: shared fixtures, and the README's "Reliability" figures written from the test run.

The figures (kills survived, files fuzzed, inputs tried, annotations lost) are added up by the tests
through the `figures` fixture. At the end of a session in which every test of tests/reliability ran and
passed, the text between the README markers is replaced with them; any other session leaves it alone.
"""
from __future__ import annotations

import os
import re
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import models.predictor  # noqa: E402,F401  (torch before any QApplication: xcb-safe)
import pytest  # noqa: E402

from models.fileio import atomic_write_text  # noqa: E402

HERE = Path(__file__).resolve().parent
README = HERE.parents[1] / "README.md"
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"

_figures: Counter = Counter()
_outcomes: dict[str, str] = {}
_collected: set[str] = set()
_deselected = False


@pytest.fixture
def figures() -> Counter:
    """Session-wide counters: kills, files_fuzzed, inputs, lost, ... (add to them, never set)."""
    return _figures


@pytest.fixture(scope="session")
def synthetic_devkit(tmp_path_factory) -> Path:
    """A 12-image 96x128 synthetic VOC devkit (6 train / 6 val), written once by the project's generator."""
    from training.synthetic import write_synthetic_devkit

    return write_synthetic_devkit(tmp_path_factory.mktemp("rel-synth"), n_images=12, seed=1, size=(96, 128))


def pytest_collection_modifyitems(session, config, items) -> None:
    """Remember which reliability tests this session runs."""
    for it in items:
        if Path(str(it.fspath)).resolve().parent == HERE:
            _collected.add(it.nodeid)


def pytest_deselected(items) -> None:
    """A -k / -m selection that drops one of our tests means the figures are partial."""
    global _deselected
    if any(Path(str(it.fspath)).resolve().parent == HERE for it in items):
        _deselected = True


def pytest_runtest_logreport(report) -> None:
    """Outcome per reliability test (a failure in any phase counts)."""
    if report.nodeid not in _collected:
        return
    if report.failed or report.skipped:
        _outcomes[report.nodeid] = report.outcome
    elif report.when == "call":
        _outcomes.setdefault(report.nodeid, "passed")


def _whole_set_passed() -> bool:
    files = {p.name for p in HERE.glob("test_*.py")}
    ran_files = {nid.split("::")[0].rsplit("/", 1)[-1] for nid in _collected}
    return (not _deselected and bool(files) and files <= ran_files
            and set(_outcomes) == _collected and all(v == "passed" for v in _outcomes.values()))


def render_section(f: Counter) -> str:
    """The README text between the markers."""
    rows = [
        ("kill -9 of the annotator at random moments, restarted each time", f["kills"]),
        ("saves confirmed by the annotator during those runs", f["saves_confirmed"]),
        ("kills of `ifcn train` (mid-epoch and mid-checkpoint-write), each resumed", f["train_kills"]),
        ("hostile or broken files fed to the readers, CLI and annotator", f["hostile_files"]),
        ("files fuzzed (random byte flips / truncations / JSON mutations)", f["files_fuzzed"]),
        ("inputs tried (clicks, disk faults, property-test examples)", f["inputs"]),
        ("**annotations lost**", f["lost"]),
    ]
    lines = [
        "Figures written by the last full run of `tests/reliability/` (`make test`), not by hand; the",
        "longer soak is `python -m benchmarks.soak_reliability`.",
        "",
        "| what | count |",
        "|---|---|",
        *[f"| {k} | {v:,} |" for k, v in rows],
    ]
    return "\n".join(lines)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Rewrite the README's reliability section when the whole set ran and passed."""
    if not _collected or not _whole_set_passed() or _figures["lost"] != 0:
        return
    if os.environ.get("IFCN_NO_README"):
        return
    try:
        text = README.read_text(encoding="utf-8")
    except OSError:
        return
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        return
    new = pattern.sub(lambda _m: f"{BEGIN}\n{render_section(_figures)}\n{END}", text, count=1)
    if new != text:
        atomic_write_text(README, new)
        print(f"\nreliability: README figures updated ({README})", file=sys.stderr)


class DialogRecorder:
    """Every message box the window opens, recorded instead of shown; `answer` is what `ask` returns."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.questions: list[str] = []
        self.answer = "cancel"

    def errors(self) -> list[tuple[str, str, str]]:
        """The error and warning messages so far."""
        return [m for m in self.messages if m[0] in ("error", "warning")]


@pytest.fixture
def dialogs_rec(monkeypatch) -> DialogRecorder:
    """Replace the annotator's dialogs with a recorder (nothing blocks)."""
    from annotator.widgets import dialogs

    rec = DialogRecorder()
    monkeypatch.setattr(dialogs, "message", lambda parent, kind, title, text: rec.messages.append((kind, title, text)))

    def ask(parent, title, text, choices, default):
        rec.questions.append(text)
        return rec.answer if rec.answer in choices else default
    monkeypatch.setattr(dialogs, "ask", ask)
    for name in ("ask_text", "ask_color", "choose_folder", "choose_file"):
        monkeypatch.setattr(dialogs, name, lambda *a, **k: None)
    return rec


@pytest.fixture
def window(qtbot, tmp_path, dialogs_rec):
    """A factory of shown MainWindows (fast disc predictor unless given, isolated settings, autosave on)."""
    from tests.reliability.driver import DiscPredictor
    from tests.window_factory import window_factory

    make, made = window_factory(qtbot, tmp_path, DiscPredictor, (700, 500))
    yield make
    for w in made:
        w._closing = True
        w.service.shutdown()


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory) -> Path:
    """A valid ifcn checkpoint (EfficientNet-Lite0 FCN-8s, random weights, half precision)."""
    import torch

    from models.backbones import spec_for
    from models.checkpoint import save_checkpoint
    from models.fcn import build_ifcn

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    save_checkpoint(path, build_ifcn(spec_for("efficientnet_lite0"), weights=None), meta={"note": "test"},
                    half=True)
    return path
