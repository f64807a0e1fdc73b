"""Drive the real annotator MainWindow (offscreen) through annotate → finish → switch → save cycles.

Run as a script (`python tests/reliability/driver.py FOLDER --seed N`); the kill tests and the soak
benchmark start it, SIGKILL it at random moments and check the files it reported saved. It prints, flushing
each line:

    READY
    OPENED <stem> <object-count>                 after the window opened an image (restored objects)
    SAVED <stem> <object-count> <digest>         after each confirmed save (digest: see label_digest)
    MESSAGE <kind> <title>: <text>               a dialog the window wanted to show (none should block)
    DONE                                          after --cycles cycles and a clean close

The objects of an image only ever grow here (no delete, no undo of a finished object), so the first
`count` objects on disk must always compose to the digest of the last SAVED line of that image.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def label_digest(cls: np.ndarray, inst: np.ndarray) -> str:
    """Short digest of a (class map, instance map) pair: what the VOC PNGs of an image hold."""
    h = hashlib.sha1()
    h.update(np.asarray(cls.shape, np.int64).tobytes())
    h.update(np.ascontiguousarray(cls, np.uint8).tobytes())
    h.update(np.ascontiguousarray(inst, np.uint8).tobytes())
    return h.hexdigest()[:16]


class DiscPredictor:
    """A fast deterministic stand-in for models.predictor.Predictor: discs around the clicks."""

    name, device, is_classical, checkpoint_path = "disc", "cpu", False, None

    def __init__(self, radius: int = 7) -> None:
        self.radius = radius
        self.shape: tuple[int, int] | None = None

    def set_image(self, rgb: np.ndarray) -> None:
        """Remember the image size."""
        self.shape = rgb.shape[:2]

    def predict(self, clicks, refine: bool = False) -> np.ndarray:
        """Positive clicks paint a disc (0.9), negative clicks erase one, in click order."""
        h, w = self.shape
        yy, xx = np.mgrid[0:h, 0:w]
        prob = np.zeros((h, w), np.float32)
        for c in clicks:
            prob[(xx - c.x) ** 2 + (yy - c.y) ** 2 <= self.radius ** 2] = 0.9 if c.positive else 0.0
        return prob

    def info(self) -> dict:
        """Model info shown by the window."""
        return {"backbone": "disc"}


def _say(*parts: object) -> None:
    print(" ".join(str(p) for p in parts), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the cycles; exit code 0 after a clean close."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cycles", type=int, default=0, help="stop after this many cycles (0: run until killed)")
    ap.add_argument("--settings", help="QSettings INI file (default: FOLDER/../driver-settings.ini)")
    ap.add_argument("--visit-all", action="store_true",
                    help="first open every image once (the window re-saves any it finds out of date)")
    ap.add_argument("--write-delay", type=float, default=0.0,
                    help="sleep this long before each atomic rename (widens the window a kill can hit)")
    args = ap.parse_args(argv)
    if args.write_delay > 0:
        import time

        real_replace = os.replace

        def slow_replace(src, dst, *a, **k):
            time.sleep(args.write_delay)
            return real_replace(src, dst, *a, **k)
        os.replace = slow_replace  # this process only: atomic writes now linger between fsync and rename
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from annotator import window as window_mod
    from annotator.settings import Settings
    from annotator.widgets import dialogs

    # The fake predictor needs no torch: skip the CUDA probe (it imports torch, seconds per restart).
    window_mod._available_devices = lambda: ["cpu"]

    def message(parent, kind, title, text):
        _say("MESSAGE", kind, f"{title}:", " ".join(str(text).split()))

    def ask(parent, title, text, choices, default):
        _say("MESSAGE", "ask", f"{title}:", " ".join(str(text).split()))
        return "cancel" if "cancel" in choices else default  # never discard work

    dialogs.message, dialogs.ask = message, ask

    app = QApplication.instance() or QApplication(sys.argv[:1])
    folder = Path(args.folder)
    ini = args.settings or str(folder.parent / "driver-settings.ini")
    win = window_mod.MainWindow(predictor=DiscPredictor(), settings=Settings().updated(autosave=True),
                                store=QSettings(ini, QSettings.IniFormat))

    def on_saved(path: str) -> None:
        st = win.state
        _say("SAVED", Path(path).stem, len(st.objects), label_digest(*st.label_maps()))

    def on_opened(index: int) -> None:
        _say("OPENED", win.images[index].stem, len(win.state.objects))

    from models.class_list import ClassTable
    win.class_ctl.set_start_list(ClassTable.voc(), store=False)  # no dialog asks for a first class
    win.saved.connect(on_saved)
    win.imageChanged.connect(on_opened)
    win.show()
    win.open_folder(folder)
    _say("READY")
    if args.visit_all:
        for i in range(1, len(win.images)):
            win.go_to(i)
        win.go_to(0)
    rng = random.Random(args.seed)
    cycle = 0
    while args.cycles <= 0 or cycle < args.cycles:
        cycle += 1
        st = win.state
        h, w = st.shape
        for k in range(rng.randint(1, 3)):
            win.add_click(rng.randrange(w), rng.randrange(h), positive=(k == 0 or rng.random() < 0.7))
            app.processEvents()
        if len(win.state.current.clicks) >= 2 and rng.random() < 0.2:
            win.undo()  # only a click of the unfinished object
        win.wait_for_inference(5.0)
        r = rng.random()
        if r < 0.6:
            win.finish_object()  # autosave after each finished object
        elif r < 0.75:
            win.save()
        # else: leave the object unfinished; the switch below autosaves it as the sidecar's "current"
        if rng.random() < 0.5 and len(win.images) > 1:
            win.go_to(rng.choice([i for i in range(len(win.images)) if i != win.index]))
        app.processEvents()
    win.close()
    app.processEvents()
    _say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
