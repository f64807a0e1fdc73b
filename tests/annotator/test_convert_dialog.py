"""File → Export… / Import labelme / COCO…: the dialog runs `ifcn convert` and shows what it did."""
from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import convert_dialog, label_file
from annotator.state import AnnotationState, AnnotObject

H, W = 90, 120  # the conftest's write_image size


def _annotate(folder, name):
    st = AnnotationState((H, W))
    mask = np.zeros((H, W), bool)
    mask[20:60, 30:90] = True
    st.load_objects([AnnotObject(uid=0, class_index=15, mask=mask)], None)
    label_file.save(folder, folder / name, st)
    return mask


def _run(dlg, qtbot):
    assert dlg.run()
    assert dlg.child.wait(180), "ifcn convert did not finish"
    qtbot.waitUntil(lambda: dlg.run_button.isEnabled(), timeout=5000)


def test_menu_has_export_and_import(make_window, image_folder):
    w = make_window(image_folder)
    file_menu = w.menuBar().actions()[0].menu()
    names = [a.objectName() for a in file_menu.actions()]
    assert "export" in names and "import_annotations" in names


def test_export_writes_the_chosen_format_and_says_so(make_window, image_folder, fake_dialogs, qtbot, tmp_path):
    mask = _annotate(image_folder, "img0.png")
    w = make_window(image_folder)
    dlg = convert_dialog.show(w, "export")
    dlg.format_box.setCurrentIndex(0)  # COCO RLE
    out = tmp_path / "coco"
    dlg.path_edit.setText(str(out))
    _run(dlg, qtbot)
    kind, _, text = fake_dialogs.messages[-1]
    assert kind == "info" and "exported 1 image(s), 1 object(s)" in text
    doc = json.loads((out / "annotations" / "instances_default.json").read_text())
    assert [a["area"] for a in doc["annotations"]] == [int(mask.sum())]
    assert (out / "images" / "img0.png").is_file()


def test_export_failure_is_a_clear_message(make_window, image_folder, fake_dialogs, qtbot, tmp_path):
    _annotate(image_folder, "img0.png")
    w = make_window(image_folder)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("x")
    dlg = convert_dialog.show(w, "export")
    dlg.format_box.setCurrentIndex(4)  # YOLO
    dlg.path_edit.setText(str(busy))
    _run(dlg, qtbot)
    kind, _, text = fake_dialogs.messages[-1]
    assert kind == "error" and str(busy) in text and "not written by `ifcn convert`" in text
    assert [p.name for p in busy.iterdir()] == ["thesis.tex"]


def test_import_labelme_opens_finished_objects(make_window, image_folder, fake_dialogs, qtbot):
    (image_folder / "img1.json").write_text(json.dumps({
        "version": "5.4.1", "flags": {}, "imagePath": "img1.png", "imageData": None, "imageHeight": H,
        "imageWidth": W, "shapes": [{"label": "tree", "points": [[10, 10], [50, 10], [50, 40], [10, 40]],
                                     "group_id": None, "shape_type": "polygon", "flags": {}}]}))
    w = make_window(image_folder)
    assert w.index == 0
    dlg = convert_dialog.show(w, "import")
    dlg.format_box.setCurrentIndex(0)
    assert dlg.path_edit.text() == str(image_folder)  # labelme files lie beside the images
    _run(dlg, qtbot)
    kind, _, text = fake_dialogs.messages[-1]
    assert kind == "info" and "imported 1 image(s), 1 object(s)" in text
    assert w.go_to(1)
    objs = w.state.objects
    assert len(objs) == 1 and w.classes.get(objs[0].class_index).name == "tree"
    assert objs[0].mask[10:41, 10:51].all() and objs[0].mask.sum() == 31 * 41


@pytest.mark.parametrize("mode", ["export", "import"])
def test_nothing_chosen_is_refused_without_running(make_window, image_folder, fake_dialogs, mode):
    w = make_window(image_folder)
    dlg = convert_dialog.show(w, mode)
    dlg.path_edit.setText("")
    assert not dlg.run() and not dlg.child.running
    assert fake_dialogs.messages[-1][0] == "warning"
