"""The Images dock's filter: by name and by status; A / D go to the next image it shows."""
from PyQt5.QtCore import Qt

from annotator.widgets.file_list import SHOW
from tests.annotator.conftest import write_image
from tests.window_factory import click, key


def _folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for i, name in enumerate(("cat_1.png", "dog_1.png", "cat_2.png", "dog_2.png", "Cat_3.png")):
        write_image(d / name, seed=i)
    return d


def _shown(w):
    lst = w.file_list.list
    return [w.images[i].name for i in range(lst.count()) if not lst.isRowHidden(i)]


def _show(w, label):
    w.file_list.show_combo.setCurrentIndex([lbl for lbl, _ in SHOW].index(label))


def test_the_name_filter_hides_rows_and_d_skips_them(make_window, tmp_path, qtbot):
    w = make_window(_folder(tmp_path))
    assert w.current_image_path.name == "Cat_3.png"  # sorted: capitals first
    w.file_list.filter_edit.setText("cat")  # case-insensitive
    assert _shown(w) == ["Cat_3.png", "cat_1.png", "cat_2.png"]
    assert "(3 shown)" in w.file_list._summary.text()
    key(qtbot, w, Qt.Key_D)
    qtbot.waitUntil(lambda: w.current_image_path.name == "cat_1.png")
    key(qtbot, w, Qt.Key_D)
    qtbot.waitUntil(lambda: w.current_image_path.name == "cat_2.png")  # dog_1 skipped
    assert not w.next_image()  # no cat after it: D stays
    key(qtbot, w, Qt.Key_A)
    qtbot.waitUntil(lambda: w.current_image_path.name == "cat_1.png")
    w.file_list.filter_edit.clear()
    assert len(_shown(w)) == 5 and "shown" not in w.file_list._summary.text()


def test_the_status_filter_walks_the_images_still_to_do(make_window, tmp_path, qtbot, fake_dialogs):
    w = make_window(_folder(tmp_path))
    fake_dialogs.text = "thing"
    click(qtbot, w, 60, 45)  # annotate the first image
    assert w.wait_for_inference(30)
    key(qtbot, w, Qt.Key_Space)
    assert w.wait_for_inference(30)
    key(qtbot, w, Qt.Key_S, Qt.ControlModifier)
    assert w.file_list.status(0) == "annotated"
    _show(w, "Not annotated")
    assert _shown(w)[0] == "Cat_3.png"  # the image being shown stays listed
    assert _shown(w)[1:] == ["cat_1.png", "cat_2.png", "dog_1.png", "dog_2.png"]
    assert w.next_image()
    qtbot.waitUntil(lambda: w.current_image_path.name == "cat_1.png")
    assert "Cat_3.png" not in _shown(w)  # left, and annotated: now hidden
    _show(w, "Annotated")
    assert _shown(w) == ["Cat_3.png", "cat_1.png"]  # cat_1 is the current one
    assert w.prev_image()
    qtbot.waitUntil(lambda: w.current_image_path.name == "Cat_3.png")
    assert _shown(w) == ["Cat_3.png"]
    assert not w.next_image()  # nothing else annotated
    _show(w, "All images")
    assert len(_shown(w)) == 5


def test_typing_a_or_d_in_the_filter_types_it(make_window, tmp_path, qtbot):
    """The A / D (and 1-9) shortcuts must not fire while the filter box has the keyboard."""
    from PyQt5.QtWidgets import QApplication

    w = make_window(_folder(tmp_path))
    first = w.current_image_path
    QApplication.setActiveWindow(w)
    w.file_list.filter_edit.setFocus()
    qtbot.keyClicks(w.file_list.filter_edit, "dad")
    assert w.file_list.filter_edit.text() == "dad" and w.current_image_path == first
    assert _shown(w) == ["Cat_3.png"]  # nothing matches: only the image shown stays
