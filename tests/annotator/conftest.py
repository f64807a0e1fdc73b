"""Fixtures for the annotator tests: offscreen Qt, a fake predictor, recorded dialogs, tiny image folders."""
from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image

from models.clicks import Click


class FakePredictor:
    """Same interface as models.predictor.Predictor: a disc of radius `radius` around positive clicks,
    cut by discs around negative clicks. Records the threads it runs on."""

    def __init__(self, delay: float = 0.0, radius: int = 12, name: str = "fake") -> None:
        self.delay, self.radius, self.name = delay, radius, name
        self.device = "cpu"
        self.is_classical = False
        self.checkpoint_path = None
        self.shape: tuple[int, int] | None = None
        self.threads: list[int] = []
        self.calls: list[tuple[Click, ...]] = []

    def set_image(self, rgb: np.ndarray) -> None:
        self.shape = rgb.shape[:2]
        self.threads.append(threading.get_ident())

    def predict(self, clicks, refine: bool = False) -> np.ndarray:
        clicks = tuple(clicks)
        self.threads.append(threading.get_ident())
        self.calls.append(clicks)
        if self.delay:
            time.sleep(self.delay)
        h, w = self.shape
        prob = np.zeros((h, w), np.float32)
        r = self.radius
        for c in clicks:
            if not (0 <= c.x < w and 0 <= c.y < h):
                raise ValueError(f"Click ({c.x}, {c.y}) lies outside the image")
            x0, y0 = max(0, int(c.x) - r), max(0, int(c.y) - r)
            yy, xx = np.mgrid[y0:min(h, int(c.y) + r + 1), x0:min(w, int(c.x) + r + 1)]
            disc = (xx - c.x) ** 2 + (yy - c.y) ** 2 <= r * r
            prob[yy[disc], xx[disc]] = 0.9 if c.positive else 0.0
        return prob

    def info(self) -> dict:
        return {"backbone": "fake", "stride": 8, "noc": {"NoC@85": 3.5}}


class Dialogs:
    """Records every message box; `answer` is what `ask` returns."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.questions: list[str] = []
        self.answer = "cancel"
        self.text: str | None = None
        self.color = None
        self.path: str | None = None


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """The annotator's per-user data folder (training runs, NoC results, samples) lives in the test's tmp_path."""
    d = tmp_path / "ifcn-data"
    monkeypatch.setenv("IFCN_DATA_DIR", str(d))
    return d


@pytest.fixture(name="FakePredictor")
def fake_predictor_class():
    """The FakePredictor class (fixtures, because test modules cannot import conftest)."""
    return FakePredictor


@pytest.fixture
def fake_dialogs(monkeypatch) -> Dialogs:
    """Replace every dialog of the annotator with a recorder (nothing blocks)."""
    from annotator.widgets import dialogs
    rec = Dialogs()
    monkeypatch.setattr(dialogs, "message",
                        lambda parent, kind, title, text: rec.messages.append((kind, title, text)))

    def ask(parent, title, text, choices, default):
        rec.questions.append(text)
        return rec.answer if rec.answer in choices else default
    monkeypatch.setattr(dialogs, "ask", ask)
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: rec.text)
    monkeypatch.setattr(dialogs, "ask_color", lambda *a, **k: rec.color)
    monkeypatch.setattr(dialogs, "choose_folder", lambda *a, **k: rec.path)
    monkeypatch.setattr(dialogs, "choose_file", lambda *a, **k: rec.path)
    return rec


def write_image(path, h: int = 90, w: int = 120, seed: int = 0) -> np.ndarray:
    """A small RGB test image with a bright rectangle."""
    rng = np.random.default_rng(seed)
    a = rng.integers(40, 70, (h, w, 3), dtype=np.uint8)
    a[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = (210, 90, 50)
    Image.fromarray(a).save(path)
    return a


@pytest.fixture(name="write_image")
def write_image_fixture():
    """The write_image helper (fixtures, because test modules cannot import conftest)."""
    return write_image


@pytest.fixture
def image_folder(tmp_path):
    """A folder with three small images."""
    d = tmp_path / "images"
    d.mkdir()
    for i in range(3):
        write_image(d / f"img{i}.png", seed=i)
    return d


@pytest.fixture
def make_window(qtbot, tmp_path, fake_dialogs):
    """Build a shown MainWindow with a fake predictor and isolated settings."""
    from tests.window_factory import window_factory

    make, made = window_factory(qtbot, tmp_path, FakePredictor, (900, 650), wait_exposed=True)
    yield make
    for w in made:
        w.service.shutdown()
