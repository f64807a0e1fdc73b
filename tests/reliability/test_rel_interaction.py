"""Bad interaction input: clicks outside / NaN / infinite, thousands of clicks, switching or closing mid-inference."""
import math

import numpy as np
from PyQt5.QtCore import QPoint, Qt

from annotator import label_file
from models.clicks import Click
from tests.reliability.driver import DiscPredictor
from tests.reliability.killloop import make_image_folder


class SlowDisc(DiscPredictor):
    """The disc predictor, slowed down (a big model on a slow machine)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay, self.calls = delay, []

    def predict(self, clicks, refine=False):
        import time

        self.calls.append(tuple(clicks))
        time.sleep(self.delay)
        return super().predict(clicks, refine)


BAD = [(-1, 5), (56, 5), (5, 40), (-0.6, 3), (55.5, 3), (1e9, 1e9), (-1e300, 2), (math.nan, 3), (3, math.nan),
       (math.inf, 2), (2, -math.inf), (math.nan, math.nan)]


def test_clicks_outside_the_image_or_not_numbers_are_refused(tmp_path, window, figures):
    w = window(make_image_folder(tmp_path / "images", n=1))  # 56 x 40
    for x, y in BAD:
        for positive in (True, False):
            assert not w.add_click(x, y, positive), (x, y)
    assert w.state.current.clicks == () and not w.dirty and not w.inference_pending
    assert "outside" in w.statusBar().currentMessage() or "finite" in w.statusBar().currentMessage()
    # the four corners are inside
    for x, y in ((0, 0), (55, 0), (0, 39), (55, 39)):
        assert w.add_click(x, y, True)
    assert w.wait_for_inference(5) and w.finish_object()
    figures["inputs"] += 2 * len(BAD) + 4


def test_mouse_clicks_beside_the_image_add_nothing(tmp_path, window, qtbot, figures):
    w = window(make_image_folder(tmp_path / "images", n=1))
    w.canvas.fit()
    vp = w.canvas.viewport()
    n = 0
    for pos in (QPoint(1, 1), QPoint(vp.width() - 2, vp.height() - 2), QPoint(1, vp.height() - 2)):
        x, y = w.canvas.image_pos(pos)
        if 0 <= x < 56 and 0 <= y < 40:
            continue  # this corner shows the image at this window shape
        for button in (Qt.LeftButton, Qt.RightButton):
            qtbot.mouseClick(vp, button, pos=pos)
            n += 1
    assert n > 0, "the fitted image leaves margins in the view"
    assert w.state.current.clicks == () and not w.dirty
    figures["inputs"] += n


def test_thousands_of_clicks_on_one_object(tmp_path, window, figures):
    pred = SlowDisc(0.005)
    folder = make_image_folder(tmp_path / "images", n=1)
    w = window(folder, predictor=pred)
    rng = np.random.default_rng(0)
    n = 1200
    pts = [(int(rng.integers(0, 56)), int(rng.integers(0, 40)), bool(i == 0 or rng.random() < 0.6))
           for i in range(n)]
    import time

    t = [time.perf_counter()]
    for i, (x, y, pos) in enumerate(pts):
        assert w.add_click(x, y, pos)
        if i in (99, n - 101, n - 1):
            t.append(time.perf_counter())
    first, last = t[1] - t[0], t[3] - t[2]
    assert last < 15 * first + 2.0, f"a click got slower with the click count ({first:.2f} s -> {last:.2f} s)"
    assert w.wait_for_inference(30)
    assert len(w.state.current.clicks) == n
    assert len(pred.calls) < n / 2, "stale requests are superseded, not queued"
    assert pred.calls[-1] == w.state.current.clicks
    ref = DiscPredictor()
    ref.set_image(np.zeros((40, 56, 3), np.uint8))
    mask = w.current_mask()
    assert mask is not None and np.array_equal(mask, ref.predict(w.state.current.clicks) >= 0.5)
    if mask.any():
        assert w.finish_object() and not w.dirty
        loaded = label_file.load(folder, folder / "im0.png", (40, 56))
        assert len(loaded.objects[0].clicks) == n
    # undo is bounded (history limit) but every step works
    undone = 0
    while w.state.can_undo and undone < 5000:
        w.undo()
        undone += 1
    assert 0 < undone < 5000 and w.wait_for_inference(30)
    figures["inputs"] += n


def test_image_switch_during_inference(tmp_path, window, dialogs_rec, qtbot, figures):
    pred = SlowDisc(0.4)
    folder = make_image_folder(tmp_path / "images", n=3)
    w = window(folder, predictor=pred)
    assert w.add_click(20, 20, True)
    qtbot.waitUntil(lambda: len(pred.calls) == 1, timeout=5000)  # running on the worker now
    assert w.inference_pending
    assert w.finish_object() is False  # finishes when the prediction arrives...
    assert w.next_image()              # ...but the user moved on first
    assert w.index == 1 and w.state.current.clicks == () and w.state.objects == ()
    assert w.add_click(10, 10, False)   # a click on the new image while the old result is still coming
    assert w.wait_for_inference(10)
    qtbot.wait(100)
    assert w.state.objects == () and w.state.current.clicks == (Click(10, 10, False),)
    assert w.current_mask() is not None and not w.current_mask().any(), "image 0's mask never lands here"
    assert not dialogs_rec.errors()
    # image 0 kept its unfinished object (autosaved as the sidecar's "current")
    assert w.prev_image() and w.index == 0
    assert w.state.current.clicks == (Click(20, 20, True),) and w.state.objects == ()
    assert w.wait_for_inference(10) and w.current_mask().any()
    assert w.finish_object() and len(w.state.objects) == 1 and not w.dirty
    figures["inputs"] += 4


def test_close_during_inference_saves_and_stops_the_worker(tmp_path, window, qtbot, figures):
    pred = SlowDisc(0.5)
    folder = make_image_folder(tmp_path / "images", n=2)
    w = window(folder, predictor=pred)
    assert w.add_click(30, 20, True)
    assert w.wait_for_inference(10) and w.finish_object()
    assert w.add_click(10, 10, True)
    qtbot.waitUntil(lambda: len(pred.calls) == 2, timeout=5000)
    assert w.close()
    assert not w.service._thread.isRunning(), "the worker thread is stopped, not left running"
    loaded = label_file.load(folder, folder / "im0.png", (40, 56))
    assert len(loaded.objects) == 1 and loaded.current.clicks == (Click(10, 10, True),)
    figures["inputs"] += 2


def test_closing_the_window_during_training(tmp_path, window, qtbot, monkeypatch, figures):
    """Quit while the Retrain dialog's child trains: the work is saved, the child is stopped (not killed,
    not orphaned) and gets to save its checkpoint. The child is a torch-free stand-in started through the
    dialog's real process wrapper."""
    import sys
    from pathlib import Path

    from PyQt5.QtWidgets import QApplication

    from annotator import training_dialog, training_menu

    fake = Path(__file__).resolve().with_name("fake_train_child.py")
    monkeypatch.setattr(training_dialog, "ifcn_command", lambda sub, *a: [sys.executable, str(fake), *a])
    folder = make_image_folder(tmp_path / "images", n=2)
    w = window(folder)
    dlg = training_menu.install_training_tools(w).show_training()
    run = tmp_path / "run"
    dlg.run_dir, dlg.train_argv = run, ["--out", str(run)]
    dlg._start_training()
    qtbot.waitUntil(lambda: dlg.step >= 3, timeout=20000)
    assert dlg.running
    assert w.add_click(20, 20) and w.wait_for_inference(5)  # unfinished, unsaved work
    assert w.dirty
    assert w.close()
    QApplication.instance().aboutToQuit.emit()  # closing the last window quits the application
    assert not dlg.running and not dlg.child.killed, "stopped gracefully"
    assert (run / "last.pt.stopped").is_file() and int((run / "last.pt.stopped").read_text()) >= 3
    loaded = label_file.load(folder, folder / "im0.png", (40, 56))
    assert loaded.current.clicks == (Click(20, 20, True),)
    figures["inputs"] += 1
