"""Benchmark dialog papercuts (issue 17): a warning when the model was trained on the images it would be
measured on, and the shipped default model offered as a model to measure."""
from __future__ import annotations

import json

from annotator import trained_on
from models.backbones import spec_for
from models.checkpoint import save_checkpoint
from models.fcn import build_ifcn
from models.predictor import default_checkpoint
from tests.annotator.test_noc_dialog import TIMEOUT_MS, setup  # noqa: F401 (the fixture)
from training.annotations import build_devkit


def _trained(path, data, init=""):
    """A checkpoint whose metadata says it was trained on the train split of `data` (after `init`)."""
    meta = {"training": {"data": str(data), "train_split": "train", "init_checkpoint": str(init)}}
    save_checkpoint(path, build_ifcn(spec_for("efficientnet_lite0"), weights=None), meta=meta)
    return path


def test_warns_when_the_model_was_trained_on_the_measured_images(setup, qtbot, tmp_path):  # noqa: F811
    w, dlg = setup
    run = tmp_path / "runs" / "run-1"
    summary = build_devkit(w.output_dir, run / "devkit", images_dir=w.folder, holdout=0.25, min_objects=1)
    assert (summary.train_images, summary.val_images) == (3, 1)
    w.predictor.checkpoint_path = _trained(run / "best.pt", run / "devkit")
    dlg.refresh_data()
    assert dlg.sources.src_all.isChecked() and dlg.trained_label.isVisible()
    assert "current (best.pt) was trained on 3 of these 4 images" in dlg.trained_label.text()
    assert "optimistic" in dlg.trained_label.text()

    dlg.sources.src_heldout.setChecked(True)  # its own held-out image: never trained on
    dlg.sources.run_edit.setText(str(run))
    dlg.sources.run_edit.editingFinished.emit()
    assert not dlg.trained_label.isVisible() and dlg.trained_label.text() == ""
    dlg.models.model_a.setCurrentIndex(dlg.models.model_a.findData("grabcut"))
    dlg.sources.src_all.setChecked(True)
    assert not dlg.trained_label.isVisible()  # GrabCut learned nothing

    # fine-tuned from best.pt on other images: still saw these three through its starting model
    other = tmp_path / "other_devkit" / "ImageSets" / "Segmentation"
    other.mkdir(parents=True)
    (other / "train.txt").write_text("x0\nx1\n")
    tuned = _trained(tmp_path / "tuned.pt", tmp_path / "other_devkit", init=run / "best.pt")
    assert len(trained_on.trained_images(tuned)) == 5
    dlg.models.path_a.setText(str(tuned))
    dlg.models.model_a.setCurrentIndex(dlg.models.model_a.findData("checkpoint"))
    assert "tuned.pt was trained on 3 of these 4 images" in dlg.trained_label.text()

    results = tmp_path / "results"
    dlg.out_edit.setText(str(results))
    with qtbot.waitSignal(dlg.benchmarkFinished, timeout=TIMEOUT_MS) as done:
        assert dlg.start()
    assert done.args == ["completed"], dlg.error_box.toPlainText()
    assert "⚠ tuned.pt was trained on 3 of these 4 images" in dlg.status_label.text()  # said again after
    assert "trained on 3 of these 4 images" in json.loads((results / "summary.json").read_text())[0]["note"]


def test_the_default_model_is_offered(setup, monkeypatch, tmp_path):  # noqa: F811
    from annotator.noc_dialog import NocDialog
    from annotator.widgets import noc_models

    w, dlg = setup
    box = dlg.models.model_a
    i = box.findData("default")
    assert i >= 0 and box.itemText(i) == "Default model (shipped)" and box.model().item(i).isEnabled()
    box.setCurrentIndex(i)
    dlg.out_edit.setText(str(tmp_path / "results"))
    run = dlg.plan()[0]
    assert (run.label, run.checkpoint) == ("default model", str(default_checkpoint()))
    assert dlg.noc_argv(run)[dlg.noc_argv(run).index("--checkpoint") + 1] == str(default_checkpoint())

    w.predictor.checkpoint_path = default_checkpoint()  # already the default: nothing to compare with
    assert NocDialog(w).models.model_b.currentData() == "none"

    monkeypatch.setattr(noc_models, "default_checkpoint", lambda: None)  # not installed
    other = NocDialog(w)
    item = other.models.model_a.model().item(other.models.model_a.findData("default"))
    assert not item.isEnabled() and item.toolTip() == "No default model is installed"
    other.models.model_a.setCurrentIndex(other.models.model_a.findData("default"))
    other.out_edit.setText(str(tmp_path / "results2"))
    assert not other.start() and not other.child.running
