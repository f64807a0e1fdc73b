"""Next image (D) in the real annotator window on a folder of 12-megapixel photos: the time until the image is
shown, with the next image decoded ahead (`annotator.prefetch`) and without, interleaved in one run.

The folder holds JPEGs of 4000 x 3000 px (the astronaut sample enlarged, each shifted so no two are alike).
Between two switches the benchmark waits `LOOK_S`, as a person looks at the image before pressing D again;
the decode ahead happens then. "Shown" is when `go_to` has returned and the event loop has painted.

    QT_QPA_PLATFORM=offscreen python -m benchmarks.bench_switch
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.common import Section, Stats, Target, photo

BLOCK = "switch"
W, H = 4000, 3000
LOOK_S = 0.5  # a person looking at the image before the next switch


class _Off:
    """A prefetcher that keeps nothing (the window as it was before decoding ahead)."""

    def request(self, path) -> None:
        pass

    def keep(self, path, rgb, stamp) -> None:
        pass

    def take(self, path):
        return None

    def clear(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


def run() -> Section:
    """Image switch time on 12-megapixel photos, with and without the decode ahead."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import cv2
    from PyQt5.QtCore import QSettings
    from PyQt5.QtTest import QTest
    from PyQt5.QtWidgets import QApplication

    from annotator.prefetch import Prefetcher
    from annotator.settings import Settings
    from annotator.widgets import dialogs
    from annotator.window import MainWindow
    from models.fileio import read_image

    t_start = time.perf_counter()
    n_images, passes = (4, 1) if common.QUICK else (12, 3)
    sec = Section("GUI: next image on 12-megapixel photos (real window, offscreen)", block=BLOCK)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    saved = dialogs.message
    dialogs.message = lambda *a, **k: None
    tmp = tempfile.TemporaryDirectory(prefix="ifcn-bench-switch-")
    try:
        folder = Path(tmp.name) / "images"
        folder.mkdir()
        big = cv2.cvtColor(photo(W, H), cv2.COLOR_RGB2BGR)
        for i in range(n_images):
            cv2.imwrite(str(folder / f"p{i:02d}.jpg"), np.roll(big, 37 * i, axis=1), [cv2.IMWRITE_JPEG_QUALITY, 92])
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / n_images / 1e6
        t0 = time.perf_counter()
        read_image(folder / "p00.jpg")
        decode_ms = (time.perf_counter() - t0) * 1000
        store = QSettings(str(Path(tmp.name) / "settings.ini"), QSettings.IniFormat)
        win = MainWindow(predictor=None, settings=Settings(), store=store)
        win.resize(1100, 800)
        win.show()
        QTest.qWaitForWindowExposed(win)
        if not win.open_folder(folder):
            raise RuntimeError("the annotator did not open the benchmark folder")
        on, off = Prefetcher(read_image), _Off()
        times: dict[str, list[float]] = {"on": [], "off": []}
        for p in range(passes):
            for i in range(1, n_images):  # forward through the folder; the prefetcher alternates per switch
                mode = "on" if (i + p) % 2 else "off"
                win.prefetch = on if mode == "on" else off
                if mode == "on":  # as the window does after each open: the next image decoded ahead
                    on.request(win.images[i])
                QTest.qWait(int(LOOK_S * 1000))
                t0 = time.perf_counter()
                if not win.go_to(i):
                    raise RuntimeError(f"could not open image {i}")
                app.processEvents()
                times[mode].append((time.perf_counter() - t0) * 1000)
            win.prefetch = off
            win.go_to(0)
        on.shutdown()
        win.close()
    finally:
        dialogs.message = saved
        tmp.cleanup()

    a, b = Stats(times["on"]), Stats(times["off"])
    ratio = a.median / b.median
    sec.table(["next image (D), 4000×3000 JPEG", "p50 ms", "p95 ms", "max ms", "n"], [
        ["decoded ahead (the default)", f"{a.median:.0f}", f"{a.p95:.0f}", f"{max(times['on']):.0f}", a.n],
        ["read when opened (before)", f"{b.median:.0f}", f"{b.p95:.0f}", f"{max(times['off']):.0f}", b.n],
        ["ratio decoded ahead / read when opened (p50)", f"{ratio:.2f}×", "", "", ""],
    ])
    sec.notes.append(f"{n_images} JPEGs of {W}x{H} px, {size_mb:.1f} MB each; one decode (models.fileio.read_image) "
                     f"took {decode_ms:.0f} ms here. {LOOK_S:.1f} s between switches (looking at the image); the "
                     "two modes alternate switch by switch in one window, so the machine's load hits both alike. "
                     "No model loaded: the time is the window's (decode, state, canvas, file list).")
    sec.targets.append(Target("next image on a 12-megapixel photo, decoded ahead vs read when opened (p50)",
                              "≤ 0.7×", f"{ratio:.2f}× ({a.median:.0f} vs {b.median:.0f} ms)", ratio <= 0.7,
                              "" if ratio <= 0.7 else "the rest of a switch (state, canvas) dominates on this machine"))
    sec.seconds = time.perf_counter() - t_start
    return sec


if __name__ == "__main__":
    print(run().markdown())
