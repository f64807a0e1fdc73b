"""Issue 17 papercuts: corrupt and empty folders, reopening at the last image."""
import numpy as np
from PyQt5.QtCore import Qt

from models.errors import ImageReadError
from models.fileio import read_image
from tests.window_factory import key


def _canvas_name(w):
    """The file whose pixels the canvas shows (None: no image)."""
    img = w.canvas.shown_image()
    if img is None:
        return None
    img = img.convertToFormat(img.Format_RGB888)
    ptr = img.constBits()
    ptr.setsize(img.bytesPerLine() * img.height())
    a = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, :3 * img.width()]
    for p in w.images:
        try:
            rgb = read_image(p)
        except ImageReadError:
            continue
        if rgb.shape[:2] == (img.height(), img.width()) and np.array_equal(rgb.reshape(img.height(), -1), a):
            return p.name
    return "?"


def _shown(w):
    """(canvas, title, file list) views of which image is shown: a name or None each."""
    canvas = _canvas_name(w)
    title = w.windowTitle().split(" — ")[0].rstrip(" *") if " — " in w.windowTitle() else None
    row = w.file_list.list.currentRow()
    listed = w.images[row].name if 0 <= row < len(w.images) and w.file_list.list.currentItem().isSelected() else None
    return canvas, title, listed


def _agree(w, name):
    assert _shown(w) == (name, name, name)


def test_corrupt_image_between_good_ones_keeps_canvas_title_and_list_in_step(make_window, tmp_path, qtbot,
                                                                            fake_dialogs, write_image):
    d = tmp_path / "mixed"
    d.mkdir()
    write_image(d / "a.png", seed=1)
    (d / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    write_image(d / "c.png", seed=2)
    w = make_window(d)
    _agree(w, "a.png")
    key(qtbot, w, Qt.Key_D)
    assert len(fake_dialogs.messages) == 1 and "b.png" in fake_dialogs.messages[0][2]
    _agree(w, "c.png")
    key(qtbot, w, Qt.Key_A)
    assert len(fake_dialogs.messages) == 2
    _agree(w, "a.png")
    # picking the broken row in the list: the message, then the list goes back to what is shown
    lst = w.file_list.list
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=lst.visualItemRect(lst.item(1)).center())
    qtbot.waitUntil(lambda: w.index == 2)
    qtbot.wait(50)
    assert len(fake_dialogs.messages) == 3
    _agree(w, "c.png")
    # arrow keys in the list open what they highlight (the broken row: its message, then skipped)
    w.go_to(0)
    w.file_list.list.setFocus()
    qtbot.keyClick(w.file_list.list, Qt.Key_Down)
    qtbot.waitUntil(lambda: w.index == 2)
    assert len(fake_dialogs.messages) == 4
    _agree(w, "c.png")
    qtbot.keyClick(w.file_list.list, Qt.Key_Home)
    qtbot.waitUntil(lambda: w.index == 0)
    _agree(w, "a.png")
    (d / "c.png").write_bytes(b"gone bad")  # the last image breaks: stay on the shown one, the list too
    w.go_to(0)
    key(qtbot, w, Qt.Key_D)
    _agree(w, "a.png")
    assert "\u2716" in w.file_list.list.item(1).text() and "\u2716" in w.file_list.list.item(2).text()


def test_all_images_unreadable_says_so_and_disables_editing(make_window, tmp_path, fake_dialogs):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "x.jpg").write_bytes(b"\xff\xd8\xffnope")
    w = make_window(d)
    assert _shown(w) == (None, None, None)
    assert "could be opened" in w.canvas.placeholder and str(d) in w.canvas.placeholder
    assert not w.actions_by_name["finish"].isEnabled() and not w.actions_by_name["clear"].isEnabled()


def test_empty_folder_says_so_on_the_canvas_and_disables_finish_and_clear(make_window, tmp_path, qtbot,
                                                                          image_folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    w = make_window(image_folder)
    assert w.actions_by_name["finish"].isEnabled() and w.actions_by_name["clear"].isEnabled()
    assert w.canvas.placeholder == ""
    w.open_folder(empty)
    assert "No images in" in w.canvas.placeholder and str(empty) in w.canvas.placeholder
    assert w.file_list._summary.text() == "No images in this folder"
    assert not w.actions_by_name["finish"].isEnabled() and not w.actions_by_name["clear"].isEnabled()
    assert _shown(w) == (None, None, None)
    # the text is on screen: the middle of the empty canvas is not the plain background
    shot = w.canvas.viewport().grab().toImage()
    bg = w.canvas.backgroundBrush().color().rgb()
    assert any(shot.pixel(x, y) != bg for x in range(0, shot.width(), 2) for y in range(shot.height() // 2 - 40,
                                                                                            shot.height() // 2 + 40, 2))
    key(qtbot, w, Qt.Key_Space)  # nothing to finish, nothing breaks
    assert w.state is None


def test_folder_reopens_at_the_image_shown_last(make_window, image_folder, tmp_path):
    from PyQt5.QtCore import QSettings

    w = make_window(image_folder)
    assert w.index == 0
    w.go_to(2)
    w.close()
    again = QSettings(str(tmp_path / "settings0.ini"), QSettings.IniFormat)
    assert again.allKeys()
    from annotator.settings import Settings
    from annotator.window import MainWindow
    w2 = MainWindow(predictor=None, settings=Settings(), store=again)
    try:
        w2.open_folder(image_folder)
        assert w2.index == 2 and w2.windowTitle().startswith("img2.png")
        (image_folder / "img2.png").unlink()  # gone since: the first image opens
        w2.open_folder(image_folder)
        assert w2.index == 0
    finally:
        w2.service.shutdown()
        w2.close()
