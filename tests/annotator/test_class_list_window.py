"""The folder's class list in the real window: no index collisions across restarts, labels.txt, the Classes
menu, delete / reorder with objects using the class, search, number keys, disagreeing sidecars."""
from __future__ import annotations

import json

import numpy as np
from PyQt5.QtCore import Qt

from annotator import label_file
from annotator.state import AnnotationState, ClassTable
from models.class_list import read_class_file
from models.fileio import read_index_png
from tests.window_factory import click, key


def annotate(qtbot, w, x=60, y=45):
    """One object at (x, y) with a real click, finished with Space, saved."""
    click(qtbot, w, x, y)
    assert w.wait_for_inference(5)
    key(qtbot, w, Qt.Key_Space)
    assert w.save()


def png_classes(folder, stem):
    return sorted(set(np.unique(read_index_png(folder / "SegmentationClass" / f"{stem}.png")).tolist()) - {0})


def test_class_numbers_never_collide_across_restarts(make_window, image_folder, fake_dialogs, qtbot):
    """Issue 15 item 2: "cup" on one image, restart, "helmet" on another: both got 21."""
    w = make_window(image_folder)
    fake_dialogs.text = "cup"
    w.class_dock.add_class()
    assert w.current_class == 21
    annotate(qtbot, w)
    w.close()
    w2 = make_window(image_folder)  # a restart: a new window on the same folder
    assert w2.classes.find("cup").index == 21
    assert w2.go_to(1)
    fake_dialogs.text = "helmet"
    w2.class_dock.add_class()
    assert w2.current_class == 22
    annotate(qtbot, w2)
    assert png_classes(image_folder, "img0") == [21] and png_classes(image_folder, "img1") == [22]
    listed = read_class_file(image_folder / "classes.json")
    assert (listed.get(21).name, listed.get(22).name) == ("cup", "helmet")


def test_new_folder_starts_with_background_only_and_first_class_is_asked(make_window, image_folder,
                                                                         fake_dialogs, qtbot):
    w = make_window(image_folder, classes=None)
    assert w.class_dock.row_names() == ["background"] and len(w.classes) == 0
    assert w.object_list.class_box.currentText() != "aeroplane"
    fake_dialogs.text = None  # the user cancels the "Add class" question: no click without a class
    click(qtbot, w, 60, 45)
    assert w.state.current.clicks == () and "Add a class first" in w.statusBar().currentMessage()
    fake_dialogs.text = "astronaut"
    click(qtbot, w, 60, 45)
    assert w.current_class == 1 and w.classes.get(1).name == "astronaut"
    assert w.state.current.class_index == 1 and len(w.state.current.clicks) == 1
    assert w.class_dock.selected_index() == 1, "the first class added is selected"
    assert w.wait_for_inference(5) and w.finish_object() and w.save()
    assert read_class_file(image_folder / "classes.json").get(1).name == "astronaut"


def test_labels_txt_start_list_and_load_class_list(make_window, image_folder, fake_dialogs, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\nweed\ncrop\n")
    from models.class_list import read_any_list
    w = make_window(classes=None)
    w.class_ctl.set_start_list(read_any_list(labels))  # what `ifcn annotate DIR --labels labels.txt` does
    w.open_folder(image_folder)
    assert w.class_dock.row_names() == ["background", "weed", "crop"] and w.current_class == 1
    stored = read_class_file(image_folder / "classes.json")
    assert [(c.index, c.name) for c in stored] == [(1, "weed"), (2, "crop")], "stored with the folder at once"
    more = tmp_path / "more.txt"
    more.write_text("crop\naphid\n")
    fake_dialogs.path = str(more)
    w.class_ctl.load_action.trigger()  # File → Load Class List…
    assert [(c.index, c.name) for c in read_class_file(image_folder / "classes.json")] == \
        [(1, "weed"), (2, "crop"), (3, "aphid")]
    assert "1 class(es) added, 1 already in the list" in fake_dialogs.messages[-1][2]
    bad = tmp_path / "bad.txt"
    bad.write_text("a\na\n")
    fake_dialogs.path = str(bad)
    w.class_ctl.load_action.trigger()
    kind, title, text = fake_dialogs.messages[-1]
    assert title == "Cannot load the class list" and str(bad) in text and "line 2" in text
    assert len(w.classes) == 3


def test_use_voc_classes_is_one_menu_item(make_window, image_folder, fake_dialogs):
    w = make_window(image_folder, classes=None)
    menu = w.class_ctl.menu
    assert menu.title() == "&Classes" and w.class_ctl.voc_action in menu.actions()
    w.class_ctl.voc_action.trigger()
    assert len(w.classes) == 20 and w.classes.get(15).name == "person" and w.current_class == 1
    assert read_class_file(image_folder / "classes.json").get(20).name == "tvmonitor"


def test_annotate_cli_labels_errors_name_the_file(tmp_path, capsys):
    from annotator.app import main
    bad = tmp_path / "labels.txt"
    bad.write_text("cat\ncat\n")
    assert main([str(tmp_path), "--labels", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "listed twice" in err and "Traceback" not in err


def test_delete_class_checks_the_objects_that_use_it(make_window, image_folder, fake_dialogs, qtbot):
    w = make_window(image_folder)
    fake_dialogs.text = "cup"
    w.class_dock.add_class()  # 21
    annotate(qtbot, w)
    assert w.go_to(1)
    fake_dialogs.answer = "delete"
    assert not w.class_ctl.delete_class(21)
    kind, title, text = fake_dialogs.messages[-1]
    assert title == "Class in use" and "1 object(s) on 1 other image(s)" in text and "img0.png: 1" in text
    assert w.classes.get(21).name == "cup"
    # a class used only on this image: confirmed with the count, deleted with its objects
    fake_dialogs.text = "plate"
    w.class_dock.add_class()  # 22
    click(qtbot, w, 30, 30)
    assert w.wait_for_inference(5) and w.finish_object()
    click(qtbot, w, 90, 60)
    assert w.wait_for_inference(5) and w.finish_object()
    fake_dialogs.answer = "cancel"
    assert not w.class_ctl.delete_class(22) and len(w.state.objects) == 2
    assert "used by 2 object(s) on this image" in fake_dialogs.questions[-1]
    fake_dialogs.answer = "delete"
    assert w.class_ctl.delete_class(22)
    assert 22 not in w.classes and w.state.objects == () and w.current_class != 22
    assert 22 not in read_class_file(image_folder / "classes.json")
    # an unused class: asked, then gone
    assert w.class_ctl.delete_class(3)
    assert "No object uses it" in fake_dialogs.questions[-1] and 3 not in w.classes


def test_reorder_changes_keys_not_indices(make_window, image_folder, fake_dialogs, qtbot):
    w = make_window(image_folder)
    annotate(qtbot, w)  # class 1 (aeroplane)
    w.class_dock.set_current(2)
    w.class_dock.buttons["up"].click()  # bicycle above aeroplane
    assert w.class_dock.row_names()[:3] == ["background", "bicycle", "aeroplane"]
    key(qtbot, w, Qt.Key_1)
    assert w.current_class == 2, "key 1 picks the first row"
    key(qtbot, w, Qt.Key_3)
    assert w.current_class == 3
    assert w.state.objects[0].class_index == 1 and w.save()
    assert png_classes(image_folder, "img0") == [1], "the object's index is unchanged"
    assert [c.index for c in read_class_file(image_folder / "classes.json")][:2] == [2, 1]
    w.close()
    w2 = make_window(image_folder)
    assert w2.classes.nth(0).index == 2, "the order is stored with the folder"


def test_search_box_filters_and_enter_picks(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    qtbot.keyClicks(w.class_dock.search, "do")
    assert w.class_dock.visible_names() == ["dog"]
    qtbot.keyClick(w.class_dock.search, Qt.Key_Return)
    assert w.current_class == 12
    w.class_dock.search.clear()
    assert len(w.class_dock.visible_names()) == 20


def test_object_list_class_box_shows_the_selected_objects_class(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    w.set_class(15)
    click(qtbot, w, 30, 30)
    assert w.wait_for_inference(5) and w.finish_object()
    w.set_class(8)
    click(qtbot, w, 90, 60)
    assert w.wait_for_inference(5) and w.finish_object()
    w.object_list.list.setCurrentRow(0)
    assert w.object_list.class_box.currentText() == "person"
    w.object_list.list.setCurrentRow(1)
    assert w.object_list.class_box.currentText() == "cat"


def test_disagreeing_sidecar_is_reported_not_merged(make_window, image_folder, fake_dialogs):
    shape = (90, 120)
    theirs = ClassTable(())
    theirs.add("cup", index=21)
    theirs.add("hacked", index=1)  # an unused class of the sidecar, renaming the list's class 1
    st = AnnotationState(shape, theirs, class_index=21)
    m = np.zeros(shape, bool)
    m[10:20, 10:20] = True
    from annotator.state import AnnotObject
    st.load_objects([AnnotObject(uid=0, class_index=21, mask=m)])
    label_file.save(image_folder, image_folder / "img0.png", st)
    ours = ClassTable.voc()
    ours.add("helmet", index=21)
    from models.class_list import write_class_file
    write_class_file(image_folder / "classes.json", ours)
    w = make_window(image_folder)
    assert w.classes.get(21).name == "helmet" and w.classes.get(1).name == "aeroplane"
    (kind, title, text), = [m for m in fake_dialogs.messages if m[1] == "Class names disagree"]
    assert str(image_folder / "annotations" / "img0.json") in text and "'cup'" in text and "'helmet'" in text
    assert "hacked" not in text, "only classes its objects use"
    w.go_to(1)
    w.go_to(0)
    assert len([m for m in fake_dialogs.messages if m[1] == "Class names disagree"]) == 1, "once a session"
    assert json.loads((image_folder / "classes.json").read_text())["classes"][20]["name"] == "helmet"


def test_editing_classes_on_an_untouched_image_leaves_it_unannotated(make_window, image_folder, fake_dialogs,
                                                                      qtbot):
    """Adding a class while looking at an image with nothing on it wrote an empty annotation on leaving it,
    and the file list then counted it as annotated (seen with a new user's first class, 2026-12-06)."""
    w = make_window(image_folder, classes=None)
    fake_dialogs.text = "cup"
    w.class_dock.add_class()
    assert not w.dirty
    assert w.go_to(1)
    assert w.file_list.status(0) == "none" and not (image_folder / "annotations").exists()
    # with an object on the image, a class edit still has its PNGs rewritten (the palette follows the list)
    annotate(qtbot, w)
    fake_dialogs.text = "plate"
    w.class_dock.add_class()
    assert w.dirty and w.save() and w.file_list.status(1) == "annotated"
    # an image with a saved annotation, even an empty one, follows the list too
    assert w.go_to(2)
    assert w.save() and w.file_list.status(2) == "annotated"
    fake_dialogs.text = "fork"
    w.class_dock.add_class()
    assert w.dirty
