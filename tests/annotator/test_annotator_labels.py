"""Labels never lost or silently wrong (issue 15): same-stem images, editing keeps the instance number,
unfinished objects on image switch, finishing while a prediction is pending. Real window, fake predictor."""
import json
import shutil

import numpy as np
import pytest
from PyQt5.QtCore import Qt

from annotator import label_file
from models.errors import AnnotationFileError
from tests.window_factory import click, key




def annotate(qtbot, w, x, y):
    """Click, wait for the mask, Space."""
    click(qtbot, w, x, y)
    assert w.wait_for_inference(10)
    key(qtbot, w, Qt.Key_Space)
    assert w.wait_for_inference(10)


# ---- item 8: same-stem images -------------------------------------------------------------------
@pytest.fixture
def cat_folder(tmp_path, write_image):
    d = tmp_path / "cats"
    d.mkdir()
    write_image(d / "cat.jpg", seed=1)
    write_image(d / "cat.png", seed=2)  # same size: the sidecar's size check cannot tell them apart
    write_image(d / "dog.png", seed=3)
    return d


def test_same_stem_image_is_refused_not_given_the_other_ones_annotation(make_window, cat_folder, qtbot,
                                                                        fake_dialogs):
    w = make_window(cat_folder)
    assert w.current_image_path.name == "cat.jpg"
    annotate(qtbot, w, 60, 45)
    saved = (cat_folder / "annotations" / "cat.json").read_bytes()
    assert json.loads(saved)["image"] == "cat.jpg"
    assert w.next_image()
    assert w.current_image_path.name == "dog.png", "cat.png is skipped, not opened with cat.jpg's objects"
    (kind, title, text), = fake_dialogs.messages
    assert "cat.png" in text and "cat.jpg" in text and "Rename" in text
    assert "cannot be annotated" in w.file_list.list.item(1).toolTip()
    annotate(qtbot, w, 30, 30)
    assert (cat_folder / "annotations" / "cat.json").read_bytes() == saved, "cat.jpg's annotation untouched"
    fake_dialogs.messages.clear()
    w.go_to(1)  # picking it in the list
    assert w.current_image_path.name != "cat.png" and len(fake_dialogs.messages) == 1


def test_the_image_named_by_the_existing_sidecar_keeps_its_files(make_window, cat_folder, qtbot, fake_dialogs):
    (cat_folder / "cat.jpg").rename(cat_folder.parent / "cat.jpg")  # cat.png alone first
    w = make_window(cat_folder)
    assert w.current_image_path.name == "cat.png"
    annotate(qtbot, w, 60, 45)
    w.close()
    shutil.move(str(cat_folder.parent / "cat.jpg"), str(cat_folder / "cat.jpg"))  # then cat.jpg appears
    w = make_window(cat_folder)
    assert w.current_image_path.name == "cat.png" and len(w.state.objects) == 1
    assert "cat.jpg" in w.file_list.list.item(0).toolTip() and "cannot be annotated" in \
        w.file_list.list.item(0).toolTip()


def test_sidecar_naming_another_existing_image_is_not_applied(tmp_path, write_image):
    from annotator.state import AnnotationState, ClassTable
    from models.clicks import Click

    write_image(tmp_path / "a.png")
    write_image(tmp_path / "b.png", seed=5)
    st = AnnotationState((90, 120), ClassTable())
    st.add_click(Click(60, 45, True))
    st.set_prediction(st.current.clicks, False, np.ones((90, 120), np.float32))
    st.finish_object()
    label_file.save(tmp_path, tmp_path / "a.png", st)
    shutil.copy(tmp_path / "annotations" / "a.json", tmp_path / "annotations" / "b.json")
    with pytest.raises(AnnotationFileError, match="annotation of 'a.png', not of 'b.png'"):
        label_file.load(tmp_path, tmp_path / "b.png", (90, 120))
    # a renamed image (the named one no longer exists) keeps its work
    (tmp_path / "a.png").rename(tmp_path / "a.jpg")
    assert len(label_file.load(tmp_path, tmp_path / "a.jpg", (90, 120)).objects) == 1


# ---- item 5: Ctrl+E keeps the instance number -----------------------------------------------------
def _instance_at(folder, name, x, y):
    from models.fileio import read_index_png
    return int(read_index_png(folder / "SegmentationObject" / name)[y, x])


@pytest.mark.parametrize("how", ["finish", "switch"])
def test_editing_a_finished_object_keeps_its_instance_number(make_window, image_folder, qtbot, how):
    w = make_window(image_folder)
    for x in (20, 60, 100):
        annotate(qtbot, w, x, 45)
    uids = [o.uid for o in w.state.objects]
    assert [_instance_at(image_folder, "img0.png", x, 45) for x in (20, 60, 100)] == [1, 2, 3]
    w.object_list.select_uid(uids[1])
    key(qtbot, w, Qt.Key_E, Qt.ControlModifier)  # Edit Object
    assert w.state.current.base is not None and len(w.state.objects) == 2
    click(qtbot, w, 66, 30)  # grow it
    assert w.wait_for_inference(10)
    if how == "finish":
        key(qtbot, w, Qt.Key_Space)
        assert w.wait_for_inference(10)
        assert [o.uid for o in w.state.objects][0::2] == [uids[0], uids[2]]
        assert w.state.objects[1].clicks[-1].y == 30, "the edited object is back in its place"
    else:
        assert w.next_image() and w.prev_image()  # saved while still being edited, then reopened
    assert [_instance_at(image_folder, "img0.png", x, 45) for x in (20, 60, 100)] == [1, 2, 3]
    assert _instance_at(image_folder, "img0.png", 66, 30) == 2
    loaded = label_file.load(image_folder, image_folder / "img0.png", (90, 120))
    assert [len(o.clicks) for o in loaded.objects] == [1, 2, 1]


def test_clearing_an_edited_object_then_drawing_a_new_one_appends_it(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    for x in (20, 100):
        annotate(qtbot, w, x, 45)
    w.object_list.select_uid(w.state.objects[0].uid)
    key(qtbot, w, Qt.Key_E, Qt.ControlModifier)
    key(qtbot, w, Qt.Key_Escape)  # drops the edited object
    annotate(qtbot, w, 60, 20)
    assert [o.clicks[0].x for o in w.state.objects] == [100, 60]


# ---- item 3: switching image with an unfinished object ---------------------------------------------
def _pngs(folder, stem):
    return [p for p in (folder / "SegmentationClass" / f"{stem}.png", folder / "SegmentationObject" / f"{stem}.png")
            if p.exists()]


def test_unfinished_object_is_kept_not_written_as_background(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    dock_width = w.file_list.width()
    click(qtbot, w, 60, 45)  # an object started, never finished
    assert w.wait_for_inference(10)
    key(qtbot, w, Qt.Key_D)  # next image: autosave
    assert w.current_image_path.name == "img1.png"
    assert _pngs(image_folder, "img0") == [], "no all-background VOC mask for an unfinished object"
    doc = json.loads((image_folder / "annotations" / "img0.json").read_text())
    assert doc["objects"] == [] and doc["current"]["clicks"] == [[60, 45, True]]
    assert w.file_list.status(0) == "unfinished" and not w.file_list.is_done(0)
    item = w.file_list.list.item(0)
    assert "unfinished" in item.toolTip() and not item.text().startswith("\u2714")
    assert "0 of 3 annotated, 1 with unfinished work" == w.file_list._summary.text()
    qtbot.wait(50)
    assert w.file_list.width() == dock_width, "a longer count wraps; the dock (and the image) do not move"
    # a new session sees the same
    w2 = make_window(image_folder)
    assert w2.file_list.status(0) == "unfinished" and w2.current_image_path.name == "img0.png"
    assert w2.state.current.clicks[0].x == 60 and not w2.dirty, "restored as unfinished, no resave needed"
    assert w2.wait_for_inference(10)
    key(qtbot, w2, Qt.Key_Space)
    assert w2.wait_for_inference(10)
    assert len(_pngs(image_folder, "img0")) == 2 and w2.file_list.status(0) == "annotated"


def test_finished_and_unfinished_objects_on_switch(make_window, image_folder, qtbot, FakePredictor):
    """The unfinished object's pixels outside finished objects are 255 (void) in both PNGs, never
    background; its mask is kept in the sidecar and is back, unchanged, when the image is reopened."""
    from models.fileio import read_index_png

    w = make_window(image_folder)
    annotate(qtbot, w, 20, 20)
    finished = w.state.objects[0].mask.copy()
    click(qtbot, w, 30, 25)  # unfinished, overlapping the finished disc
    assert w.wait_for_inference(10)
    pending = w.state.raw_current_mask().copy()
    assert (pending & finished).any() and (pending & ~finished).any()
    key(qtbot, w, Qt.Key_D)
    paths = label_file.paths_for(image_folder, image_folder / "img0.png")
    inst, cls = read_index_png(paths.object_png), read_index_png(paths.class_png)
    unlabelled = pending & ~finished
    assert np.array_equal(inst == 255, unlabelled) and np.array_equal(cls == 255, unlabelled), \
        "the unfinished object is void in both PNGs where no finished object lies"
    assert np.array_equal(inst == 1, finished) and not (pending & (inst == 0)).any(), \
        "the finished object keeps its pixels; no unfinished pixel is called background"
    doc = json.loads(paths.sidecar.read_text())
    assert np.array_equal(label_file.rle_decode(doc["current"]["mask"]["rle"], (90, 120)), pending)
    assert w.file_list.status(0) == "unfinished" and not w.file_list.is_done(0)
    key(qtbot, w, Qt.Key_A)
    assert len(w.state.objects) == 1 and w.state.current.clicks[0].x == 30 and not w.dirty
    assert np.array_equal(w.state.raw_current_mask(), pending)
    # a new session whose model would predict another mask shows the saved one until the next click
    before = (paths.class_png.read_bytes(), paths.object_png.read_bytes())
    w2 = make_window(image_folder, predictor=FakePredictor(radius=5))
    if w2.index != 0:
        assert w2.go_to(0)
    assert not w2.dirty and not w2.state.needs_prediction(), "restored as saved: nothing to re-predict"
    assert np.array_equal(w2.state.raw_current_mask(), pending)
    assert w2.file_list.status(0) == "unfinished"
    w2.state.dirty = True  # a later save writes the same files
    assert w2.save() and (paths.class_png.read_bytes(), paths.object_png.read_bytes()) == before
    key(qtbot, w2, Qt.Key_Space)  # finishing it turns the void into the object
    assert w2.wait_for_inference(10) and w2.save()
    inst = read_index_png(paths.object_png)
    assert np.array_equal(inst == 2, unlabelled) and not (inst == 255).any()
    assert w2.file_list.status(0) == "annotated"


def test_stale_masks_go_when_only_an_unfinished_object_is_left(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    annotate(qtbot, w, 20, 20)
    assert len(_pngs(image_folder, "img0")) == 2
    w.delete_object(w.state.objects[0].uid)
    click(qtbot, w, 90, 60)
    assert w.wait_for_inference(10)
    key(qtbot, w, Qt.Key_D)
    assert _pngs(image_folder, "img0") == []
    loaded = label_file.load(image_folder, image_folder / "img0.png", (90, 120))
    assert loaded.objects == [] and loaded.current is not None and not loaded.needs_resave


def test_edited_object_saved_while_its_click_is_predicting_is_kept(tmp_path):
    from annotator.state import AnnotationState, ClassTable
    from models.clicks import Click

    st = AnnotationState((90, 120), ClassTable())
    masks = []
    for x in (20, 60, 100):
        st.add_click(Click(x, 45, True))
        m = np.zeros((90, 120), np.float32)
        m[40:50, x - 5:x + 5] = 1
        st.set_prediction(st.current.clicks, False, m)
        masks.append(st.finish_object().mask)
    assert st.resume(st.objects[1].uid)
    st.add_click(Click(70, 45, True))  # its prediction has not arrived
    assert st.current_mask() is None
    label_file.save(tmp_path, tmp_path / "a.png", st)
    loaded = label_file.load(tmp_path, tmp_path / "a.png", (90, 120))
    assert len(loaded.objects) == 3, "the object being edited is not dropped"
    assert np.array_equal(loaded.objects[1].mask, masks[1]) and loaded.objects[1].clicks == (Click(60, 45, True),)


# ---- item 4: Space while inference is pending -------------------------------------------------------
@pytest.fixture
def two_stage(FakePredictor):
    """A predictor that sends the network's map first (radius 12), then a narrower refined one (radius 5)."""
    class TwoStage(FakePredictor):
        two_stage_refine = True

        def __init__(self, net_delay=0.0, refine_delay=0.4):
            super().__init__()
            self.net_delay, self.refine_delay = net_delay, refine_delay

        def predict(self, clicks, refine=False):
            import time
            time.sleep(self.refine_delay if refine else self.net_delay)
            self.radius = 5 if refine else 12
            return super().predict(clicks, refine)
    return TwoStage


def _record_shown(w):
    """Every (clicks, mask) the overlay drew, in order."""
    shown = []
    real = w.canvas.set_overlay

    def set_overlay(rgba):
        m = w.current_mask()
        shown.append((w.state.current.clicks if w.state else None, None if m is None else m.copy()))
        real(rgba)
    w.canvas.set_overlay = set_overlay
    return shown


def test_space_while_refining_finishes_with_the_mask_on_screen(make_window, image_folder, qtbot, two_stage):
    w = make_window(image_folder, predictor=two_stage(net_delay=0.0, refine_delay=0.5), refine=True)
    click(qtbot, w, 60, 45)
    qtbot.waitUntil(lambda: w.state.current_mask() is not None, timeout=5000)  # the preview is on screen
    assert w.inference_pending, "the refinement is still running"
    on_screen = w.current_mask().copy()
    key(qtbot, w, Qt.Key_Space)
    assert len(w.state.objects) == 1, "finished at once, with what is shown"
    assert w.wait_for_inference(10)
    assert np.array_equal(w.state.objects[0].mask, on_screen)


def test_space_before_anything_is_shown_waits_and_shows_the_mask_first(make_window, image_folder, qtbot,
                                                                      two_stage):
    w = make_window(image_folder, predictor=two_stage(net_delay=0.3, refine_delay=0.3), refine=True)
    shown = _record_shown(w)
    click(qtbot, w, 60, 45)
    clicks = w.state.current.clicks
    key(qtbot, w, Qt.Key_Space)  # nothing shown for this click yet
    assert w.state.objects == ()
    qtbot.waitUntil(lambda: len(w.state.objects) == 1, timeout=5000)
    assert w.wait_for_inference(10)
    done = w.state.objects[0].mask
    shown_for_it = [m for c, m in shown if c == clicks and m is not None]
    assert shown_for_it and np.array_equal(shown_for_it[-1], done), "finished with a mask the user saw"
