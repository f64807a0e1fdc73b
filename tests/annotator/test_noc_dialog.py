"""Training → Benchmark (NoC)…: real `ifcn devkit` + `ifcn noc` children driven from the dialog."""
from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject
from models.backbones import spec_for
from models.checkpoint import save_checkpoint
from models.fcn import build_ifcn

H, W = 64, 80
TIMEOUT_MS = 120_000


@pytest.fixture
def setup(make_window, FakePredictor, tmp_path, monkeypatch):
    """A window on four annotated images (one disc each) whose current model has a real checkpoint."""
    from annotator.training_menu import install_training_tools

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        img = rng.normal(110, 20, (H, W, 3))
        m = np.zeros((H, W), np.uint8)
        cv2.circle(m, (int(rng.integers(30, 50)), int(rng.integers(26, 38))), int(rng.integers(14, 20)), 1, -1)
        img[m > 0] = (40, 90, 210)
        path = folder / f"p{i}.png"
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path)
        st = AnnotationState((H, W))
        st.load_objects([AnnotObject(uid=0, class_index=1, mask=m > 0)])
        label_file.save(folder, path, st)
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, build_ifcn(spec_for("efficientnet_lite0"), weights=None))
    fake = FakePredictor()
    fake.checkpoint_path = ckpt
    w = make_window(folder, predictor=fake)
    dlg = install_training_tools(w).show_noc()
    assert dlg.models.model_b.currentData() == "default"  # a current model other than the shipped one
    dlg.models.model_b.setCurrentIndex(dlg.models.model_b.findData("none"))  # (one model: a faster test)
    dlg.clicks.setValue(3)
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))
    yield w, dlg
    for child in (dlg.child, dlg.sources.probe):
        child.kill()
        child.wait(5)


def test_two_models_curves_table_and_files(setup, qtbot, tmp_path):
    w, dlg = setup
    assert dlg.sources.src_all.isChecked()  # no retraining run yet: every annotated image
    assert "4 images, 4 finished objects" in dlg.sources.all_label.text()
    dlg.models.model_b.setCurrentIndex(dlg.models.model_b.findData("grabcut"))
    results = tmp_path / "results"
    dlg.out_edit.setText(str(results))
    runs = dlg.plan()
    assert [(r.label, r.checkpoint, r.refine) for r in runs] == [
        ("current (model.pt)", str(w.predictor.checkpoint_path), False), ("GrabCut baseline", "grabcut", False)]
    seen_partial = []
    dlg.child.progress.connect(
        lambda ev: ev["event"] == "object" and seen_partial.append(len(dlg.curves)))
    with qtbot.waitSignal(dlg.benchmarkFinished, timeout=TIMEOUT_MS) as done:
        assert dlg.start()
        assert not dlg.start_button.isEnabled()
    assert done.args == ["completed"], dlg.error_box.toPlainText()
    assert len(seen_partial) == 8 and seen_partial[0] == 1  # the curve appeared with the first object
    assert dlg.table.rowCount() == 2
    for row, run in enumerate(dlg.runs):
        assert dlg.table.item(row, 1).text() == "4"
        noc85 = float(dlg.table.item(row, 2).text())
        assert 1 <= noc85 <= 3 and noc85 == run.end["noc@85"]
        xs, ys = dlg.curves[row].getData()
        assert list(xs) == [1, 2, 3] and np.allclose(ys, run.end["miou_per_click"], atol=1e-4)
        for name in ("summary.json", "per_object.csv", "miou_vs_clicks.png"):
            assert (run.out / name).is_file(), name  # the child's own files
    # the second model against the first, object by object (`ifcn compare`)
    last = dlg.table.columnCount() - 1
    assert dlg.table.item(0, last).text() == "–"
    paired = dlg.runs[1].paired
    assert paired is not None and paired["objects"] == 4 and paired["target"] == 90, dlg.runs[1].paired_error
    assert dlg.table.item(1, last).text() == f"{paired['difference']:+.2f} ± {paired['se']:.2f} ({paired['verdict']})"
    assert paired["difference"] == pytest.approx(dlg.runs[1].end["noc@90"] - dlg.runs[0].end["noc@90"], abs=1e-3)
    assert "4 objects both runs measured" in dlg.table.item(1, last).toolTip()
    rows = json.loads((results / "summary.json").read_text())
    assert [r["label"] for r in rows] == ["current (model.pt)", "GrabCut baseline"]
    assert rows[0]["vs_first"] is None and rows[1]["vs_first"]["difference"] == paired["difference"]
    table = list(csv.DictReader((results / "summary.csv").open()))
    assert len(table) == 2 and table[1]["checkpoint"] == "grabcut" and "miou_3" in table[0]
    assert table[0]["vs_first_noc@90"] == "" and float(table[1]["vs_first_noc@90"]) == paired["difference"]
    png = cv2.imread(str(results / "miou_vs_clicks.png"))
    assert png is not None and png.shape[0] > 100
    assert str(results) in dlg.status_label.text()


def test_runs_measure_the_predictor_as_the_annotator_runs_it(setup, tmp_path):
    """The benchmark passes the Model menu's choices on to `ifcn noc` (defaults: whole image, f-BRS)."""
    w, dlg = setup
    dlg.out_edit.setText(str(tmp_path / "results"))
    run = dlg.plan()[0]
    argv = dlg.noc_argv(run)
    assert argv[argv.index("--zoom-in") + 1] == "400" and "--brs" in argv and "--no-brs" not in argv
    assert "--snap" in argv and "--no-snap" not in argv
    assert "--learned-refiner" in argv and "--no-learned-refiner" not in argv
    assert argv[argv.index("--max-size") + 1] == str(w.settings.max_size)
    w._update_settings(zoom_in=False, brs=False, max_size=384, snap=False, learned_refiner=False)
    argv = dlg.noc_argv(run)
    assert argv[argv.index("--zoom-in") + 1] == "0" and "--no-brs" in argv and "--brs" not in argv
    assert "--no-snap" in argv and "--snap" not in argv
    assert "--no-learned-refiner" in argv and "--learned-refiner" not in argv
    assert argv[argv.index("--max-size") + 1] == "384"
    assert argv[argv.index("--checkpoint") + 1] == str(w.predictor.checkpoint_path)


def test_refined_runs_use_the_annotators_refinement(setup, tmp_path):
    """A refined run passes Model → Refine with GrabCut on as --refine-method and is labelled by it."""
    w, dlg = setup
    dlg.out_edit.setText(str(tmp_path / "results"))
    dlg.models.refine.setCurrentIndex(2)  # both
    plain, refined = dlg.plan()
    assert "--refine" not in dlg.noc_argv(plain) and "--refine-method" not in dlg.noc_argv(plain)
    argv = dlg.noc_argv(refined)
    assert "--refine" in argv and argv[argv.index("--refine-method") + 1] == "colour"
    assert refined.label.endswith("+ colour refinement")
    w._update_settings(refine_method="grabcut")
    refined = dlg.plan()[1]
    assert dlg.noc_argv(refined)[dlg.noc_argv(refined).index("--refine-method") + 1] == "grabcut"
    assert refined.label.endswith("+ GrabCut")


def test_refusals(setup, fake_dialogs, tmp_path):
    w, dlg = setup
    dlg.sources.src_heldout.setChecked(True)
    dlg.sources.run_edit.setText(str(tmp_path / "no_run"))
    assert not dlg.start() and "not a retraining run folder" in fake_dialogs.messages[-1][2]
    dlg.sources.src_all.setChecked(True)
    dlg.models.model_a.setCurrentIndex(dlg.models.model_a.findData("checkpoint"))
    dlg.models.path_a.setText(str(tmp_path / "missing.pt"))
    assert not dlg.start() and "no such checkpoint file" in fake_dialogs.messages[-1][2]
    dlg.models.model_a.setCurrentIndex(dlg.models.model_a.findData("grabcut"))
    dlg.models.refine.setCurrentIndex(1)  # with refinement only: the classical baseline has no refined variant
    assert not dlg.start() and "Nothing to run" in fake_dialogs.messages[-1][2]
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.txt").write_text("x")
    dlg.models.refine.setCurrentIndex(0)
    dlg.out_edit.setText(str(full))
    assert not dlg.start() and "not empty" in fake_dialogs.messages[-1][2]
    assert not dlg.child.running


def _benchmark_folder(root, masks: dict[str, np.ndarray] | None = None):
    """A benchmark folder: images/ + masks/<stem>_<k>.png. By default two images, the first with two
    overlapping objects, each object with a 128 (ignore) band around it; `masks` replaces the masks."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(3)
    for stem in ("b0", "b1"):
        Image.fromarray(rng.integers(0, 60, (H, W, 3), dtype=np.uint8)).save(root / "images" / f"{stem}.png")
    if masks is None:
        masks = {}
        for name, (y0, x0, h, w) in {"b0_0": (8, 8, 30, 40), "b0_1": (20, 30, 30, 40),
                                     "b1_0": (16, 20, 28, 30)}.items():
            m = np.zeros((H, W), np.uint8)
            m[y0 - 2:y0 + h + 2, x0 - 2:x0 + w + 2] = 128
            m[y0:y0 + h, x0:x0 + w] = 255
            masks[name] = m
    for name, m in masks.items():
        Image.fromarray(m).save(root / "masks" / f"{name}.png")
    return root


def test_benchmark_folder_layout_is_shown_and_passed_to_the_children(setup, qtbot, tmp_path):
    w, dlg = setup
    folder = _benchmark_folder(tmp_path / "bench")
    dlg.sources.folder_edit.setText(str(folder))
    with qtbot.waitSignal(dlg.sources.probe.finished, timeout=TIMEOUT_MS):
        dlg.sources.src_folder.setChecked(True)  # choosing the data checks the folder's layout at once
    label = dlg.sources.layout_label.text()
    assert label.startswith("Detected: ") and "object folder" in label and "2 images, 3 objects" in label
    assert not dlg.child.running  # only the check ran, no benchmark yet
    dlg.models.model_a.setCurrentIndex(dlg.models.model_a.findData("grabcut"))
    results = tmp_path / "results"
    dlg.out_edit.setText(str(results))
    with qtbot.waitSignal(dlg.benchmarkFinished, timeout=TIMEOUT_MS) as done:
        assert dlg.start()
        argv = dlg.child.argv
    assert done.args == ["completed"], dlg.error_box.toPlainText()
    assert argv[argv.index("--data") + 1] == str(folder) and "--voc-root" not in argv
    assert dlg.table.rowCount() == 1 and dlg.table.item(0, 1).text() == "3"  # overlapping objects: one each
    summary = json.loads((dlg.runs[0].out / "summary.json").read_text())
    assert summary["objects"] == 3 and summary["split"] == "all" and summary["source"] == str(folder)
    assert json.loads((results / "summary.json").read_text())[0]["noc@90"] == summary["noc@90"]
    assert "2 images, 3 objects" in dlg.sources.layout_label.text()


@pytest.mark.parametrize("kind", ["ambiguous", "no masks"])
def test_benchmark_folder_refused_before_running(setup, qtbot, tmp_path, fake_dialogs, kind):
    w, dlg = setup
    disc = np.zeros((H, W), np.uint8)
    disc[10:30, 10:30] = 255
    masks = {"b0": (disc > 0).astype(np.uint8), "b0_0": disc} if kind == "ambiguous" else {}
    folder = _benchmark_folder(tmp_path / "bench", masks)
    dlg.sources.src_folder.setChecked(True)
    dlg.sources.folder_edit.setText(str(folder))
    with qtbot.waitSignal(dlg.sources.probe.finished, timeout=TIMEOUT_MS):
        dlg.sources.check_folder()
    label = dlg.sources.layout_label.text()
    assert label.startswith("Refused: ") and str(folder / "masks") in label
    assert ("ambiguous" if kind == "ambiguous" else "no mask matches an image") in label
    dlg.out_edit.setText(str(tmp_path / "results"))
    assert not dlg.start() and not dlg.child.running
    assert fake_dialogs.messages[-1][2] == label[len("Refused: "):]
