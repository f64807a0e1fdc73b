"""Labels never lost or silently wrong (issue 15): same-stem images, editing keeps the instance number,
unfinished objects on image switch, finishing while a prediction is pending. Real window, fake predictor."""
import json
import shutil

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QApplication

from annotator import label_file
from models.errors import AnnotationFileError


def click(qtbot, w, x, y, button=Qt.LeftButton):
    """A real mouse click on image pixel (x, y) of the canvas."""
    qtbot.mouseClick(w.canvas.viewport(), button, pos=w.canvas.view_pos_of(x, y))


def key(qtbot, w, k, mod=Qt.NoModifier):
    """A real key press, delivered like the user's (window active, canvas focused)."""
    QApplication.setActiveWindow(w)
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, k, mod)


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
