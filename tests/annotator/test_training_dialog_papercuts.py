"""Retrain dialog papercuts (issue 17): Start disabled with its reason, the held-out size and its
confidence note, --val-every on the command line, no clipped text."""
from __future__ import annotations

import pytest

from annotator.training_progress import CONFIDENT_OBJECTS, TrainingProgress


@pytest.fixture
def dialog(make_window, FakePredictor, tmp_path):
    """A Retrain dialog on a folder of three images, each saved with one finished object."""
    from annotator.training_menu import install_training_tools
    from tests.annotator.test_training_dialog import write_annotated_folder

    w = make_window(write_annotated_folder(tmp_path / "photos", n=3), predictor=FakePredictor())
    dlg = install_training_tools(w).show_training()
    yield w, dlg
    dlg.close()


def test_start_is_disabled_with_the_reason_until_enough_objects(dialog, qtbot, fake_dialogs):
    w, dlg = dialog
    assert dlg.annotation_counts == (3, 3) and dlg.min_objects == 10
    assert not dlg.start_button.isEnabled()
    reason = dlg.start_reason.text()
    assert "Needs at least 10 finished objects: 3 in 3 images" in reason and "Annotate 7 more" in reason
    assert dlg.start_reason.isVisible() and dlg.start_button.toolTip() == reason
    assert not dlg.start() and fake_dialogs.messages[-1][2] == reason  # a direct call is refused the same way

    dlg.min_objects = 4
    assert not dlg.start_button.isEnabled()
    assert w.add_click(70, 20) and w.wait_for_inference(10) and w.finish_object()  # a 2nd object on image 0
    with qtbot.waitSignal(w.saved, timeout=5000):
        assert w.save()
    assert dlg.annotation_counts == (3, 4)  # the dialog followed the save
    assert dlg.start_button.isEnabled() and dlg.start_reason.text() == ""
    assert "4 finished objects" in dlg.form.data_label.text()


def test_unsaved_objects_on_screen_count(dialog):
    w, dlg = dialog
    w._update_settings(autosave=False)
    dlg.min_objects = 4
    assert w.add_click(70, 20) and w.wait_for_inference(10) and w.finish_object()
    assert w.dirty
    dlg.refresh_data()
    assert dlg.annotation_counts == (3, 4) and dlg.start_button.isEnabled()  # Start saves it first


def test_validate_every_reaches_the_train_command(dialog, tmp_path):
    _, dlg = dialog
    dlg.form.val_every.setValue(7)
    argv = dlg.form.train_args(tmp_path / "run", None, 0)
    assert argv[argv.index("--val-every") + 1] == "7"
    dlg.form.val_every.setValue(0)  # "each epoch": the trainer's default, no flag
    assert dlg.form.val_every.text() == "each epoch"
    assert "--val-every" not in dlg.form.train_args(tmp_path / "run", None, 0)


def test_corrective_clicks_reach_the_train_command(dialog, tmp_path):
    """Retraining trains on the model's own mistakes by default (RITM-style, as the shipped model was trained;
    a previous-mask model learns its input only so); off gives the paper's sampling."""
    _, dlg = dialog
    argv = dlg.form.train_args(tmp_path / "run", None, 0)
    assert argv[argv.index("--iterative") + 1] == "3"
    dlg.form.corrective.setValue(0)
    assert dlg.form.corrective.text() == "off"
    assert "--iterative" not in dlg.form.train_args(tmp_path / "run", None, 0)


@pytest.mark.parametrize("n", [0, 1, 2, CONFIDENT_OBJECTS - 1])
def test_a_small_held_out_set_is_not_presented_as_an_improvement(n):
    p = TrainingProgress()
    p.feed({"event": "devkit", "train_images": 9, "train_objects": 9, "val_images": n, "val_objects": n}, "devkit")
    p.feed({"event": "baseline", "val_iou": 0.40, "objects": n}, "devkit")
    p.feed({"event": "end", "status": "completed", "steps": 6, "seconds": 12, "best_val_iou": 0.71}, "train")
    text = p.summary("Completed", 0)
    assert "0.400 → 0.710" in text and "+0.310" not in text  # no signed "gain"
    assert f"on {n} object{'s' * (n != 1)}." in text
    assert ("too few to tell an improvement from chance" in text) if n else ("No object was held out" in text)


def test_enough_held_out_objects_show_the_change():
    p = TrainingProgress()
    p.feed({"event": "baseline", "val_iou": 0.40, "objects": 25}, "devkit")
    p.feed({"event": "val", "step": 3, "val_iou": 0.6, "objects": 25}, "train")
    p.feed({"event": "end", "steps": 6, "seconds": 12, "best_val_iou": 0.71}, "train")
    text = p.summary("Completed", 0)
    assert "0.400 → 0.710 (+0.310) on 25 objects." in text and "\n" not in text
    assert p.val_x == [0, 3] and p.val_y == [0.40, 0.6]  # the curve starts at the starting model
