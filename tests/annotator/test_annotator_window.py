"""Widget tests: real mouse clicks and keys on the main window, with a fake predictor."""
import threading
import time

import numpy as np
import pytest
from PIL import Image
from PyQt5.QtCore import QElapsedTimer, QEvent, QPoint, QPointF, Qt, QTimer
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication

from annotator import label_file
from models.class_list import read_class_file
from models.clicks import Click
from tests.window_factory import click, key




def drag(qtbot, w, points):
    """Press, move through and release the left button along image points."""
    vp = w.canvas.viewport()
    pos = [w.canvas.view_pos_of(x, y) for x, y in points]
    qtbot.mousePress(vp, Qt.LeftButton, pos=pos[0])
    for p in pos[1:]:
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, QPointF(p), Qt.NoButton, Qt.LeftButton,
                                               Qt.NoModifier))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=pos[-1])


def settle(w):
    assert w.wait_for_inference(10)


def test_left_click_adds_positive_click_and_mask_appears(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    assert not w.canvas.overlay_visible()
    click(qtbot, w, 60, 45)
    assert w.state.current.clicks == (Click(60, 45, True),)
    assert w._pos_label.text() == "x 60, y 45"  # the clicked pixel, with no mouse move before the press
    settle(w)
    m = w.current_mask()
    assert m is not None and m[45, 60] and m.sum() > 100
    assert w.canvas.overlay_visible()
    assert len(w.canvas.marker_items()) == 1
    assert w.predictor.threads and threading.get_ident() not in w.predictor.threads
    assert "ms" in w._ms_label.text() and "1 object" not in w._objects_label.text()


def test_right_click_adds_negative_click(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    click(qtbot, w, 66, 45, Qt.RightButton)
    settle(w)
    assert [c.positive for c in w.state.current.clicks] == [True, False]
    assert not w.current_mask()[45, 66], "the negative click removes its area"
    brush = [it.brush().color().name() for it in w.canvas.marker_items()]
    assert brush[0] != brush[1]


def test_markers_keep_screen_size_when_zooming(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    click(qtbot, w, 30, 30)
    item = w.canvas.marker_items()[0]
    size0 = w.canvas.mapFromScene(item.sceneBoundingRect()).boundingRect().width()
    w.canvas.zoom(4.0)
    item = w.canvas.marker_items()[0]
    assert item.deviceTransform(w.canvas.viewportTransform()).m11() == pytest.approx(1.0)
    assert size0 > 0


def test_undo_redo_keys_and_dirty_flag(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    click(qtbot, w, 20, 20)
    settle(w)
    w.save()
    assert not w.dirty
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert len(w.state.current.clicks) == 1 and w.dirty, "undo marks dirty"
    key(qtbot, w, Qt.Key_Y, Qt.ControlModifier)
    assert len(w.state.current.clicks) == 2
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(w.state.current.clicks) == 2
    key(qtbot, w, Qt.Key_Escape)
    assert w.state.current.clicks == ()
    assert w.dirty and "*" in w.windowTitle()


def test_space_finishes_object_and_number_keys_pick_class(make_window, image_folder, qtbot):
    w = make_window(image_folder, autosave=False)
    key(qtbot, w, Qt.Key_3)
    assert w.current_class == 3
    click(qtbot, w, 60, 45)
    key(qtbot, w, Qt.Key_Space)  # prediction may still be pending: finishes when it arrives
    settle(w)
    assert len(w.state.objects) == 1 and w.state.objects[0].class_index == 3
    assert w.object_list.list.count() == 1 and "bird" in w.object_list.list.item(0).text()
    assert w.state.current.is_empty
    click(qtbot, w, 20, 20)
    settle(w)
    key(qtbot, w, Qt.Key_Return)
    assert len(w.state.objects) == 2
    # relabel and delete through the object list
    w.object_list.select_uid(w.state.objects[0].uid)
    w.relabel_object(w.state.objects[0].uid, 15)
    assert w.state.objects[0].class_index == 15
    w.delete_object(w.state.objects[1].uid)
    assert len(w.state.objects) == 1


def test_navigation_autosaves_and_reopens_identically(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    settle(w)
    w.finish_object()
    click(qtbot, w, 40, 30)
    click(qtbot, w, 44, 30, Qt.RightButton)  # unfinished object
    settle(w)
    objects_before = w.state.objects
    pending = w.state.raw_current_mask().copy()
    key(qtbot, w, Qt.Key_D)
    assert w.index == 1
    paths = label_file.paths_for(image_folder, image_folder / "img0.png")
    for p in (paths.class_png, paths.object_png):
        im = Image.open(p)
        assert im.mode == "P"
    inst = np.asarray(Image.open(paths.object_png))
    # the unfinished object is void (255) outside the finished one, not background (issue 15 item 3)
    unlabelled = pending & ~objects_before[0].mask
    assert np.array_equal(inst == 1, objects_before[0].mask) and np.array_equal(inst == 255, unlabelled)
    assert set(np.unique(inst)) == {0, 1, 255}
    cls = np.asarray(Image.open(paths.class_png))
    assert set(np.unique(cls)) == {0, objects_before[0].class_index, 255}
    assert np.array_equal(cls == 255, unlabelled)
    assert w.file_list.status(0) == "unfinished", "saved, but with unfinished work (issue 15 item 3)"
    key(qtbot, w, Qt.Key_A)
    assert w.index == 0 and not w.dirty
    assert len(w.state.objects) == 1 and np.array_equal(w.state.objects[0].mask, objects_before[0].mask)
    assert w.state.current.clicks == (Click(40, 30, True), Click(44, 30, False)), "unfinished work restored"
    assert np.array_equal(w.state.raw_current_mask(), pending), "with its mask as it was"
    key(qtbot, w, Qt.Key_PageDown)
    assert w.index == 1


def test_switch_without_autosave_asks_and_cancel_keeps_work(make_window, image_folder, qtbot, fake_dialogs):
    w = make_window(image_folder, autosave=False)
    click(qtbot, w, 60, 45)
    fake_dialogs.answer = "cancel"
    assert not w.next_image()
    assert w.index == 0 and w.state.current.clicks and fake_dialogs.questions
    fake_dialogs.answer = "save"
    assert w.next_image() and w.index == 1
    assert label_file.paths_for(image_folder, "img0.png").sidecar.exists()


def test_gui_stays_responsive_while_slow_predictor_runs(make_window, image_folder, qtbot, FakePredictor):
    w = make_window(image_folder, predictor=FakePredictor(delay=0.5))
    ticks = []
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(clock.elapsed()))
    timer.start(10)
    click(qtbot, w, 60, 45)
    assert w.inference_pending
    qtbot.waitUntil(lambda: not w.inference_pending, timeout=5000)
    timer.stop()
    gaps = np.diff(ticks)
    assert clock.elapsed() >= 450 and len(ticks) > 20
    assert gaps.max() < 200, f"event loop stalled for {gaps.max()} ms"
    assert w.current_mask()[45, 60]


def test_unreadable_image_shows_message_and_moves_on(make_window, tmp_path, qtbot, fake_dialogs, write_image):
    d = tmp_path / "mixed"
    d.mkdir()
    (d / "a_truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (d / "b_empty.png").write_bytes(b"")
    write_image(d / "c_good.png")
    w = make_window(d)
    assert w.index == 2 and w.state is not None
    assert len(fake_dialogs.messages) == 2
    assert "a_truncated.jpg" in fake_dialogs.messages[0][2] and "b_empty.png" in fake_dialogs.messages[1][2]
    assert "\u2716" in w.file_list.list.item(0).text()
    assert not w.prev_image() and w.index == 2, "going back over unreadable images keeps the good one"


def test_read_only_output_keeps_work_and_retry_works(make_window, image_folder, tmp_path, qtbot,
                                                     fake_dialogs, monkeypatch):
    w = make_window(image_folder)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the output folder should be")
    w.set_output_dir(blocked)
    click(qtbot, w, 60, 45)
    settle(w)
    assert w.finish_object()  # finished in memory; its autosave fails
    assert len(w.state.objects) == 1 and w.dirty
    assert len(fake_dialogs.messages) == 1
    kind, title, text = fake_dialogs.messages[0]
    assert kind == "error" and "Could not save" in title and "kept in memory" in text
    fake_dialogs.answer = "cancel"
    assert not w.next_image(), "a failed autosave never drops the work"
    assert w.index == 0 and len(w.state.objects) == 1 and w.dirty

    # a permission error from the disk is reported the same way
    import models.fileio as fio
    real = fio.atomic_write_bytes

    def denied(path, data):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(fio, "atomic_write_bytes", denied)
    w.set_output_dir(tmp_path / "out")
    assert not w.save() and "Permission denied" in fake_dialogs.messages[-1][2]
    monkeypatch.setattr(fio, "atomic_write_bytes", real)
    assert w.save() and not w.dirty
    assert (tmp_path / "out" / "SegmentationObject" / "img0.png").exists()


def test_failing_checkpoint_keeps_current_model(make_window, image_folder, tmp_path, fake_dialogs):
    w = make_window(image_folder)
    before = w.predictor
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert not w.load_checkpoint(str(bad))
    assert w.predictor is before
    assert fake_dialogs.messages and fake_dialogs.messages[-1][0] == "error"
    assert "bad.pt" in fake_dialogs.messages[-1][2]


def test_set_predictor_swaps_model_and_repredicts(make_window, image_folder, qtbot, FakePredictor):
    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    settle(w)
    small = w.current_mask().sum()
    seen = []
    w.predictorChanged.connect(seen.append)
    new = FakePredictor(radius=20, name="bigger")
    w.set_predictor(new)
    settle(w)
    assert seen == [new] and new.calls and w.current_mask().sum() > small
    assert w.training_menu.title().replace("&", "") == "Training"
    from PyQt5.QtWidgets import QAction
    retrain = QAction("Retrain on my annotations…", w)
    w.add_training_action(retrain)
    assert [a.text() for a in w.training_menu.actions()] == ["Retrain on my annotations…"]
    info = w.model_info()
    assert info["name"] == "bigger" and info["backbone"] == "fake"


def test_brush_and_eraser_by_mouse_drag(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    click(qtbot, w, 60, 45)
    settle(w)
    key(qtbot, w, Qt.Key_B)
    assert w.canvas.mode == "brush"
    size = w.canvas.brush_size
    key(qtbot, w, Qt.Key_BracketRight)
    assert w.canvas.brush_size > size
    key(qtbot, w, Qt.Key_BracketLeft)
    vp = w.canvas.viewport()
    drag(qtbot, w, [(10, 80), (20, 80), (30, 80)])
    m = w.current_mask()
    assert len(w.state.current.strokes) == 1 and m[80, 20] and m[45, 60]
    key(qtbot, w, Qt.Key_E)
    w.set_brush_size(4)  # image pixels: a dab at (60, 45) leaves (70, 45) alone
    qtbot.mouseClick(vp, Qt.LeftButton, pos=w.canvas.view_pos_of(60, 45))
    assert not w.current_mask()[45, 60]
    key(qtbot, w, Qt.Key_C)
    click(qtbot, w, 70, 45)  # a new click: the brush edits stay
    settle(w)
    m = w.current_mask()
    assert m[80, 20] and not m[45, 60] and m[45, 70]


def test_canvas_fit_zoom_pan(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    fit = w.canvas.scale_factor()
    vp = w.canvas.viewport().rect()
    assert 120 * fit <= vp.width() + 1 and 90 * fit <= vp.height() + 1
    assert 120 * fit >= vp.width() - 8 or 90 * fit >= vp.height() - 8, "fitted, not just shrunk"
    w.canvas.actual_size()
    assert w.canvas.scale_factor() == 1.0
    w.canvas.fit()
    anchor = w.canvas.view_pos_of(50, 40)
    w.canvas.zoom(3.0, anchor=QPointF(anchor))
    assert w.canvas.scale_factor() == pytest.approx(3 * fit)
    x, y = w.canvas.image_pos(anchor)
    assert abs(x - 50.5) < 1 and abs(y - 40.5) < 1, "zoom keeps the point under the cursor"
    clicks_before = len(w.state.current.clicks)
    start = w.canvas.view_pos_of(60, 45)
    centre = w.canvas.mapToScene(w.canvas.viewport().rect().center())
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, Qt.MiddleButton, pos=start)
    QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, QPointF(start + QPoint(40, 0)), Qt.NoButton,
                                           Qt.MiddleButton, Qt.NoModifier))
    qtbot.mouseRelease(vp, Qt.MiddleButton, pos=start + QPoint(40, 0))
    assert len(w.state.current.clicks) == clicks_before, "panning adds no click"
    moved = w.canvas.mapToScene(w.canvas.viewport().rect().center())
    shift = 40 / w.canvas.scale_factor()
    assert moved.x() == pytest.approx(centre.x() - shift, abs=0.5), "the image follows the mouse"


def test_shortcuts_help_and_model_info(make_window, image_folder):
    w = make_window(image_folder)
    rows = dict(w.show_shortcuts().rows())
    assert "Ctrl+Z" in rows and any("Space" in k for k in rows) and "Right click" in rows
    info = dict(w.show_model_info().rows())
    assert info["backbone"] == "fake" and "NoC@85" in info["noc"]
    assert info["classical GrabCut (no network)"] == "no" and "model" in info  # readable names, one row each


def test_model_info_names_the_real_predictors_properties_readably(make_window, image_folder, tmp_path):
    from annotator.widgets.dialogs import model_info_dialog
    from models.checkpoint import save_checkpoint
    from models.predictor import Predictor, ZoomIn
    from tests.models.helpers import random_model

    path = tmp_path / "m.pt"
    save_checkpoint(path, random_model(), meta={"val_iou": 0.5, "noc@90": 7.75, "grabcut_noc@90": 5.45})
    p = Predictor.load(path, device="cpu", brs=None, zoom_in=ZoomIn())
    d = model_info_dialog(None, p.info())
    rows = dict(d.rows())
    assert rows["file"] == str(path)
    r = [k for k, _ in d.rows()].index("file")
    assert d.table.item(r, 1).toolTip() == str(path)  # the whole path, however narrow the column
    assert rows["enforce clicks (f-BRS)"] == "off" and rows["snap to edges"] == "on"
    assert rows["zoom in on the object"] == "on" and rows["refinement (key G)"] == "colour"
    assert rows["network input (px)"] == "512" and rows["classical GrabCut (no network)"] == "no"
    assert rows["NoC@90 with f-BRS alone"] == "7.75" and rows["NoC@90 as the annotator runs it"] == "5.45"
    assert not any(k in rows for k in ("brs", "snap", "classical", "annotator_noc@90"))  # no raw keys left


def test_class_table_add_rename_recolor(make_window, image_folder, fake_dialogs):
    w = make_window(image_folder)
    fake_dialogs.text = "lamp"
    w.class_dock.add_class()
    assert w.classes.get(21).name == "lamp" and w.current_class == 21
    fake_dialogs.text = "street lamp"
    w.class_dock.rename_selected()
    fake_dialogs.color = (1, 2, 3)
    w.class_dock.recolor_selected()
    assert w.classes.get(21).name == "street lamp" and w.classes.get(21).color == (1, 2, 3)
    listed = read_class_file(image_folder / "classes.json").get(21)
    assert (listed.name, listed.color) == ("street lamp", (1, 2, 3)), "class edits are stored with the folder"
    assert not w.dirty, "an image with nothing on it is not marked changed by a class edit"
    w.save()
    data = label_file.read_sidecar(label_file.paths_for(image_folder, "img0.png").sidecar, (90, 120))
    assert {c.index: (c.name, c.color) for c in data.classes}[21] == ("street lamp", (1, 2, 3))


def test_broken_sidecar_message_and_kept_on_save(make_window, image_folder, qtbot, fake_dialogs):
    p = label_file.paths_for(image_folder, "img0.png").sidecar
    p.parent.mkdir()
    p.write_text("{broken")
    w = make_window(image_folder)
    assert w.state is not None and "img0.json" in fake_dialogs.messages[0][2]
    click(qtbot, w, 60, 45)
    settle(w)
    assert w.save()
    assert list(p.parent.glob("img0.json.broken-*"))[0].read_text() == "{broken"
    assert label_file.load(image_folder, image_folder / "img0.png", (90, 120)).current.clicks


def test_close_with_failed_save_asks_and_cancel_keeps_window(make_window, image_folder, tmp_path, qtbot,
                                                             fake_dialogs):
    w = make_window(image_folder)
    (tmp_path / "f").write_text("x")
    w.set_output_dir(tmp_path / "f")
    click(qtbot, w, 60, 45)
    fake_dialogs.answer = "cancel"
    assert not w.close() and w.isVisible() and w.state.current.clicks
    w.set_output_dir(tmp_path / "ok")
    assert w.close()
    assert (tmp_path / "ok" / "annotations" / "img0.json").exists(), "closing autosaves"


@pytest.mark.slow
def test_large_image_opens_and_stays_responsive(make_window, tmp_path, qtbot):
    d = tmp_path / "big"
    d.mkdir()
    a = np.zeros((8000, 8000, 3), np.uint8)  # 64 Mpx: just under the image pixel limit (models.fileio)
    a[2400:5600, 2400:5600] = 200
    Image.fromarray(a).save(d / "huge.jpg", quality=50)
    del a
    w = make_window(d)
    assert w.state.shape == (8000, 8000)
    assert w.canvas.overlay_step() > 1, "the overlay is drawn from a subsampled copy"
    t0 = time.perf_counter()
    click(qtbot, w, 4000, 4000)
    assert time.perf_counter() - t0 < 1.0, "a click on a huge image returns at once"
    settle(w)
    assert w.current_mask()[4000, 4000] and w.canvas.overlay_visible()
    w.state.mark_saved()  # skip the (slow) autosave of two 64-megapixel PNGs on close


def test_refine_with_grabcut_switches_the_refinement_and_persists(make_window, image_folder, tmp_path, fake_dialogs):
    """Model → Refine with GrabCut (off by default: colour refinement behind key G) reloads the model with the
    other refinement; a failed reload reverts the setting and the check mark."""
    from models.checkpoint import save_checkpoint
    from models.fcn import build_ifcn
    from models.spec import ModelSpec

    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, build_ifcn(ModelSpec(backbone="efficientnet_lite0"), weights=None))
    w = make_window(image_folder)
    assert w.load_checkpoint(str(ckpt))
    act = w.actions_by_name["refine_grabcut"]
    assert act in w.model_menu.actions() and not act.isChecked()
    assert w.settings.refine_method == "colour" and w.predictor.refine_method == "colour"
    act.trigger()
    assert act.isChecked() and w.settings.refine_method == "grabcut" and w.predictor.refine_method == "grabcut"
    assert w.predictor.checkpoint_path == ckpt
    ckpt.unlink()
    before = w.predictor
    act.trigger()  # the reload fails: GrabCut stays, checked
    assert w.predictor is before and act.isChecked() and w.settings.refine_method == "grabcut"
    assert fake_dialogs.messages[-1][0] == "error"


@pytest.mark.parametrize("action, setting, default", [("focus_zoom", "zoom_in", True),
                                                      ("enforce_clicks", "brs", True),
                                                      ("snap_edges", "snap", True)])
def test_model_toggles_reload_and_persist(make_window, image_folder, tmp_path, fake_dialogs, action, setting,
                                          default):
    """Model → Zoom In on the Object / Enforce Clicks / Snap to Edges (all on by default) reload the model with the option
    switched; a failed reload reverts the setting and the check mark."""
    from models.checkpoint import save_checkpoint
    from models.fcn import build_ifcn
    from models.spec import ModelSpec

    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, build_ifcn(ModelSpec(backbone="efficientnet_lite0"), weights=None))
    w = make_window(image_folder)
    assert w.load_checkpoint(str(ckpt))
    act = w.actions_by_name[action]
    assert act in w.model_menu.actions()
    assert act.isChecked() is default and (getattr(w.predictor, setting) is not None) is default
    act.trigger()
    assert act.isChecked() is not default and getattr(w.settings, setting) is not default
    assert (getattr(w.predictor, setting) is not None) is not default
    assert w.predictor.checkpoint_path == ckpt  # the same model, reloaded
    ckpt.unlink()  # the next reload fails: the setting and the check mark stay as they were
    before = w.predictor
    act.trigger()
    assert w.predictor is before and act.isChecked() is not default and getattr(w.settings, setting) is not default
    assert fake_dialogs.messages[-1][0] == "error"


def test_learned_refiner_toggle_only_for_models_that_carry_one(make_window, image_folder, tmp_path, fake_dialogs):
    """Model → Snap with the Learned Refiner: enabled for a model with a refiner (and on by default, so snapping
    runs it), disabled for one without; switching it off reloads the model with the guided filter."""
    import torch

    from models.checkpoint import save_checkpoint
    from models.fcn import build_ifcn
    from models.refiner import Refiner
    from models.spec import ModelSpec
    from training.export import export_checkpoint

    plain = tmp_path / "plain.pt"
    save_checkpoint(plain, build_ifcn(ModelSpec(backbone="efficientnet_lite0"), weights=None))
    torch.save({"model": Refiner(8).state_dict(), "width": 8}, tmp_path / "ref.pt")
    with_ref = tmp_path / "with_ref.pt"
    export_checkpoint(plain, with_ref, refiner=tmp_path / "ref.pt")
    w = make_window(image_folder)
    act = w.actions_by_name["learned_refiner"]
    assert act in w.model_menu.actions() and act.isChecked()
    assert w.load_checkpoint(str(plain))
    assert not act.isEnabled() and not w.predictor.uses_refiner
    assert act.text().endswith("(this model has none)")  # greyed but ticked: the text says why
    assert w.load_checkpoint(str(with_ref))
    assert act.isEnabled() and w.predictor.uses_refiner and act.text() == "Snap with the &Learned Refiner"
    act.trigger()
    assert not act.isChecked() and w.settings.learned_refiner is False
    assert w.predictor.checkpoint_path == with_ref and not w.predictor.uses_refiner
    assert w.predictor.model.refiner is not None  # still carried, just not run
    w.actions_by_name["snap_edges"].trigger()  # snapping off: the refiner's switch has nothing to switch
    assert w.predictor.snap is None and not act.isEnabled() and act.text().endswith("(needs Snap to Edges)")
