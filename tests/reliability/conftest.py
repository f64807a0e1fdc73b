"""Reliability tests: shared fixtures, and the figures of the README's "Reliability" table.

The figures (kills survived, files fuzzed, inputs tried, annotations lost) are added up by the tests
through the `figures` fixture. A session in which every test of tests/reliability ran and passed writes
them to build/reliability/figures.json (tests/reliability/table.py); any other session writes nothing.
The tracked README is never touched by a test run: `make reliability-table` copies the figures there.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import models.predictor  # noqa: E402,F401  (torch before any QApplication: xcb-safe)
import pytest  # noqa: E402


HERE = Path(__file__).resolve().parent

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


def pytest_sessionfinish(session, exitstatus) -> None:
    """Store the figures (build/reliability/figures.json) when the whole set ran and passed; the README
    is never written by the suite (`make reliability-table` copies them there)."""
    if not _collected or not _whole_set_passed():
        return
    from tests.reliability.table import write_figures

    path = write_figures(_figures)
    print(f"\nreliability: figures written to {path} (make reliability-table copies them into the README)",
          file=sys.stderr)


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
