"""Training → Retrain on my annotations…: real `ifcn devkit` + `ifcn train` children driven from the dialog."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject
from models.backbones import spec_for
from models.checkpoint import load_checkpoint, save_checkpoint
from models.fcn import build_ifcn

BACKBONE = "efficientnet_lite0"
H, W = 80, 96
TIMEOUT_MS = 150_000


def write_annotated_folder(folder, n: int = 10, seed: int = 0):
    """`n` images of a reddish ellipse on grey noise, each saved with one finished object."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = rng.normal(120, 25, (H, W, 3)) + rng.uniform(-30, 30, 3)
        m = np.zeros((H, W), np.uint8)
        cv2.ellipse(m, (int(rng.integers(32, 64)), int(rng.integers(27, 53))),
                    (int(rng.integers(16, 26)), int(rng.integers(16, 26))), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        img[m > 0] = (200, 60, 50)
        path = folder / f"img{i:02d}.png"
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path)
        st = AnnotationState((H, W))
        st.load_objects([AnnotObject(uid=0, class_index=1, mask=m > 0)])
        label_file.save(folder, path, st)
    return folder


@pytest.fixture(scope="module")
def weak_checkpoint(tmp_path_factory):
    """An untrained tiny-input iFCN checkpoint (no weights loaded)."""
    path = tmp_path_factory.mktemp("ckpt") / "weak.pt"
    save_checkpoint(path, build_ifcn(spec_for(BACKBONE), weights=None))
    return path


@pytest.fixture
def setup(make_window, FakePredictor, tmp_path, weak_checkpoint, monkeypatch):
    """A window on an annotated folder whose (fake) current model has a real checkpoint; a tiny-run dialog."""
    from annotator.training_menu import install_training_tools

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # children: 1 thread is much faster on a loaded 2-core box
    folder = write_annotated_folder(tmp_path / "photos")
    fake = FakePredictor()
    fake.checkpoint_path = weak_checkpoint
    w = make_window(folder, predictor=fake)
    tools = install_training_tools(w)
    dlg = tools.show_training()
    dlg.min_objects = 5
    dlg.workers = 0
    dlg.form.steps.setValue(6)
    dlg.form.batch.setValue(2)
    dlg.form.crop.setValue(64)
    dlg.form.val_every.setValue(3)
    dlg.form.device.setCurrentIndex(dlg.form.device.findData("cpu"))
    yield w, dlg
    dlg.child.kill()
    dlg.child.wait(5)


def test_menu_entries(setup):
    w, _ = setup
    texts = [a.text() for a in w.training_menu.actions()]
    assert "&Retrain on My Annotations…" in texts and "&Benchmark (NoC)…" in texts
    assert all(a.isEnabled() for a in w.training_menu.actions())


def test_short_run_updates_bar_and_plots_then_use_model(setup, qtbot):
    w, dlg = setup
    dlg.form.holdout.setValue(0.1)  # one image (one object) held out
    assert dlg.form.use_current.isChecked()
    assert str(w.predictor.checkpoint_path) in dlg.form.current_label.text()
    assert dlg.annotation_counts == (10, 10)
    with qtbot.waitSignal(dlg.runFinished, timeout=TIMEOUT_MS) as done:
        assert dlg.start()
        assert not dlg.start_button.isEnabled() and dlg.stop_button.isEnabled()
        # the annotator stays usable while the children work
        assert w.add_click(40, 40, True) and w.wait_for_inference(10) and w.current_mask() is not None
        qtbot.waitUntil(lambda: dlg.phase == "train", timeout=TIMEOUT_MS)
    assert done.args == ["completed"], dlg.error_box.toPlainText()
    assert dlg.bar.maximum() == 6 and dlg.bar.value() == 6
    xs, ys = dlg.curves.loss_curve.getData()
    assert list(xs) == [1, 2, 3, 4, 5, 6] and np.all(np.isfinite(ys))
    vx, vy = dlg.curves.val_curve.getData()
    # --val-every 3 reached the trainer and was used: step 3 ends no epoch (9 images, batch 2)
    assert dlg.train_argv[dlg.train_argv.index("--val-every") + 1] == "3"
    assert {3, 6} <= set(vx) and all(0 <= v <= 1 for v in vy)
    # "before" measured on the held-out share
    assert dlg.progress.baseline is not None and dlg.curves.before_line.isVisible()
    assert dlg.progress.devkit["val_images"] == 1 and dlg.progress.devkit["train_images"] == 9
    summary = dlg.summary_label.text()
    assert "Completed: 6 steps" in summary and "→" in summary
    # one held-out object: its size and a confidence note, never a signed "gain"
    assert "on 1 object." in summary and "too few to tell an improvement from chance" in summary
    assert "(+" not in summary and "(-" not in summary
    assert "(1 object)" in dlg.curves.val_plot.getPlotItem().titleLabel.text
    assert "$ ifcn train" in dlg.log_view.toPlainText()
    best = dlg.run_dir / "best.pt"
    assert best.is_file() and dlg.use_button.isEnabled()
    assert load_checkpoint(best).meta["training"]["init_checkpoint"] == str(w.predictor.checkpoint_path)
    dlg.use_button.click()
    assert w.predictor.checkpoint_path == best  # predictor swapped, no restart
    assert f"now uses {best}" in dlg.status_label.text()


def test_stop_leaves_resumable_checkpoint_and_refuses_a_second_run(setup, qtbot, fake_dialogs):
    w, dlg = setup
    dlg.form.use_fresh.setChecked(True)  # (no "before" evaluation: a faster start)
    dlg.form.imagenet.setChecked(False)
    dlg.form.steps.setValue(100_000)
    dlg.form.val_every.setValue(0)
    assert dlg.start()
    assert not dlg.start()  # a run already going
    assert "already going" in fake_dialogs.messages[-1][2]
    qtbot.waitUntil(lambda: dlg.step >= 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(dlg.runFinished, timeout=TIMEOUT_MS) as done:
        dlg.stop_button.click()
    assert done.args == ["stopped"] and dlg.child.exit_code == 130
    last = load_checkpoint(dlg.run_dir / "last.pt")
    assert last.extra["step"] >= 1 and "optimizer" in last.extra
    assert "Resumable" in dlg.summary_label.text() and dlg.resume_button.isEnabled()
    assert load_checkpoint(dlg.run_dir / "last.pt").meta["training"]["weights"] == "none"


def test_failing_child_shows_its_error(setup, qtbot, tmp_path):
    w, dlg = setup
    not_a_devkit = tmp_path / "not_a_devkit"
    not_a_devkit.mkdir()
    dlg.form.use_fresh.setChecked(True)
    dlg.form.voc_check.setChecked(True)
    dlg.form.voc_edit.setText(str(not_a_devkit))  # exists, so the dialog lets it through; `ifcn devkit` exits 2
    with qtbot.waitSignal(dlg.runFinished, timeout=TIMEOUT_MS) as done:
        assert dlg.start()
    assert done.args == ["failed"] and dlg.child.exit_code == 2
    text = dlg.error_box.toPlainText()
    assert dlg.error_box.isVisible() and text.startswith("Preparing the data failed: ")
    assert "not a VOC devkit" in text.splitlines()[0]  # the reason, from the child's error event
    tail = text.split("Last lines of its output:")[1]  # ... then the last lines of its stderr
    assert f"error: {not_a_devkit}: not a VOC devkit" in tail
    assert not dlg.use_button.isEnabled() and dlg.start_button.isEnabled() and w.isVisible()
    assert not (dlg.run_dir / "last.pt").exists()  # training never started


def test_refusals(setup, fake_dialogs, monkeypatch):
    from annotator import run_support

    w, dlg = setup
    dlg.min_objects = 50
    assert not dlg.start()
    assert "Needs at least 50 finished objects: 10 in 10 images" in fake_dialogs.messages[-1][2]
    assert not dlg.child.running
    dlg.min_objects = 5

    class Usage:
        free = 10 * 2 ** 20
    monkeypatch.setattr(run_support.shutil, "disk_usage", lambda p: Usage)
    assert not dlg.start()
    assert "Not enough free disk space" in fake_dialogs.messages[-1][2]
    monkeypatch.undo()

    w.predictor.checkpoint_path = None  # nothing to fine-tune: only a fresh backbone is offered
    dlg.refresh_data()
    assert not dlg.form.use_current.isEnabled() and dlg.form.use_fresh.isChecked()
    assert not dlg.child.running and dlg.run_dir is None
