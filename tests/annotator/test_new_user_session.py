"""Issue 15's "done when": a new user's session on a copy of the bundled samples round-trips exactly.

The real window, started as `ifcn annotate` starts it (settings read from one INI file that persists across
restarts, an empty class list, the shipped model), driven with real mouse clicks and keys: two classes
added from the Classes menu, three objects of both classes on two photos, image switches from the file
list, a close and a restart on the last folder, an edit (Ctrl+E) of the first object, a save, a second
restart. Each restart must read back exactly what was written, and write nothing by merely opening.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PyQt5.QtCore import QSettings, Qt

from annotator import label_file
from annotator.widgets.file_list import DONE_MARK, TODO_MARK
from models.class_list import read_class_file
from models.fileio import read_index_png
from resources import SAMPLES
from tests.window_factory import click, key

PERSON, COIN = (400, 400), ((45, 50), (100, 50))  # astronaut.jpg's suit; two coins of coins.jpg
EDIT_CLICK = (160, 50)                             # a third coin, added to the first coin's object


@pytest.fixture
def samples(tmp_path):
    """A copy of the bundled sample photos (what `ifcn annotate --samples` opens)."""
    dest = tmp_path / "samples"
    shutil.copytree(SAMPLES, dest)
    return dest


@pytest.fixture
def start(qtbot, tmp_path, fake_dialogs):
    """`start()` opens the annotator as the app does, on the last folder of one persistent settings file."""
    from annotator.settings import default_settings, load_settings
    from annotator.window import MainWindow

    ini = str(tmp_path / "user-settings.ini")
    made: list = []

    def _start(folder: Path | None = None):
        store = QSettings(ini, QSettings.IniFormat)
        settings = load_settings(store, default_settings())
        w = MainWindow(settings=settings, store=store)
        qtbot.addWidget(w)
        w.class_ctl.set_start_list(None)   # no --labels: a new folder starts with background only
        w.resize(900, 650)
        w.show()
        qtbot.waitExposed(w)
        assert w.load_checkpoint(None), "the shipped model loads"
        w.open_folder(folder if folder is not None else settings.last_folder)
        made.append(w)
        return w

    yield _start
    for w in made:
        w.service.shutdown()


def annotate(qtbot, w, x: int, y: int) -> None:
    """A real left click on (x, y), the mask shown, Space."""
    click(qtbot, w, x, y)
    assert w.wait_for_inference(60)
    assert w.state.raw_current_mask().any(), "the model shows a mask"
    key(qtbot, w, Qt.Key_Space)
    assert w.wait_for_inference(60) and w.state.current.is_empty


def pick_image(qtbot, w, name: str) -> None:
    """Click the image's row in the file list; the window opens it."""
    lst = w.file_list.list
    row = next(i for i in range(lst.count()) if lst.item(i).text().endswith(name))
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=lst.visualItemRect(lst.item(row)).center())
    qtbot.waitUntil(lambda: w.current_image_path is not None and w.current_image_path.name == name, timeout=10000)


def add_class(w, fake_dialogs, name: str) -> int:
    """Classes → Add Class…, answering `name`."""
    fake_dialogs.text = name
    act = next(a for a in w.class_ctl.menu.actions() if a.text() == "&Add Class…")
    act.trigger()
    return w.current_class


def disk(folder: Path) -> dict[str, bytes]:
    """Every annotation file under the output folder, by relative path."""
    out = {}
    for sub in ("annotations", "SegmentationClass", "SegmentationObject"):
        for p in sorted((folder / sub).glob("*")):
            out[f"{sub}/{p.name}"] = p.read_bytes()
    out["classes.json"] = (folder / "classes.json").read_bytes()
    return out


def check_image(folder: Path, name: str, shape: tuple[int, int]) -> label_file.LoadedAnnotation:
    """The image's sidecar reads back, and its PNGs hold exactly what the sidecar describes."""
    image = folder / name
    loaded = label_file.load(folder, image, shape)
    assert not loaded.needs_resave and loaded.current is None and not loaded.foreign
    paths = label_file.paths_for(folder, image)
    cls, inst = label_file.png_maps(loaded.objects, loaded.void, None, shape)
    assert np.array_equal(read_index_png(paths.class_png), cls)
    assert np.array_equal(read_index_png(paths.object_png), inst)
    doc = json.loads(paths.sidecar.read_text())
    assert doc["image"] == name and [o["instance"] for o in doc["objects"]] == list(range(1, len(doc["objects"]) + 1))
    return loaded


def same_objects(a, b) -> None:
    """Equal object lists: class, clicks, strokes and mask of each, in order (instance numbers)."""
    assert [(o.class_index, o.clicks, o.strokes) for o in a] == [(o.class_index, o.clicks, o.strokes) for o in b]
    for x, y in zip(a, b):
        assert np.array_equal(x.mask, y.mask)


def marks(w) -> dict[str, str]:
    """The file list's status and mark of each image."""
    lst = w.file_list.list
    return {w.images[i].name: (w.file_list.status(i), lst.item(i).text()[0]) for i in range(lst.count())}


@pytest.mark.slow
def test_new_user_session_on_the_samples_round_trips_exactly(start, samples, qtbot, fake_dialogs):
    w = start(samples)
    assert w.current_image_path.name == "astronaut.jpg" and len(w.classes) == 0
    assert getattr(w.predictor, "checkpoint_path", None) is not None, "the shipped model, not a stand-in"
    person, coin = add_class(w, fake_dialogs, "person"), add_class(w, fake_dialogs, "coin")
    assert (person, coin) == (1, 2)

    key(qtbot, w, Qt.Key_1)                                 # the first class by its number key
    assert w.current_class == person
    annotate(qtbot, w, *PERSON)
    pick_image(qtbot, w, "coins.jpg")                      # autosaves astronaut.jpg
    key(qtbot, w, Qt.Key_2)
    assert w.current_class == coin
    for x, y in COIN:
        annotate(qtbot, w, x, y)
    assert [o.class_index for o in w.state.objects] == [coin, coin]
    first_coin = w.state.objects[0].mask.copy()
    pick_image(qtbot, w, "astronaut.jpg")                  # autosaves coins.jpg
    assert [o.class_index for o in w.state.objects] == [person]
    pick_image(qtbot, w, "coins.jpg")
    assert fake_dialogs.messages == []
    shapes = {"astronaut.jpg": (512, 512), "coins.jpg": (303, 384)}
    session1 = {n: check_image(samples, n, s) for n, s in shapes.items()}
    assert [o.class_index for o in session1["astronaut.jpg"].objects] == [person]
    assert [o.class_index for o in session1["coins.jpg"].objects] == [coin, coin]
    expected_marks = {p.name: ("none", TODO_MARK) for p in w.images}
    expected_marks.update({n: ("annotated", DONE_MARK) for n in shapes})
    assert marks(w) == expected_marks
    assert w.file_list._summary.text() == f"2 of {len(w.images)} annotated"
    w.close()
    files1 = disk(samples)
    assert set(files1) == {"annotations/astronaut.json", "annotations/coins.json",
                           "SegmentationClass/astronaut.png", "SegmentationClass/coins.png",
                           "SegmentationObject/astronaut.png", "SegmentationObject/coins.png", "classes.json"}
    table = read_class_file(samples / "classes.json")
    assert [(c.index, c.name) for c in table] == [(person, "person"), (coin, "coin")]

    # ---- restart: the same folder, at the image shown last, exactly as saved; nothing rewritten -----
    w = start()
    assert w.current_image_path.name == "coins.jpg" and not w.dirty
    assert [(c.index, c.name) for c in w.classes] == [(person, "person"), (coin, "coin")]
    same_objects(w.state.objects, session1["coins.jpg"].objects)
    assert marks(w) == expected_marks
    pick_image(qtbot, w, "astronaut.jpg")
    same_objects(w.state.objects, session1["astronaut.jpg"].objects)
    pick_image(qtbot, w, "coins.jpg")
    assert disk(samples) == files1, "opening and switching wrote nothing"

    # ---- edit the first coin (Ctrl+E), grow it by a click, finish, save ----------------------------
    w.object_list.select_uid(w.state.objects[0].uid)
    key(qtbot, w, Qt.Key_E, Qt.ControlModifier)
    assert w.state.current.base is not None and len(w.state.objects) == 1
    click(qtbot, w, *EDIT_CLICK)
    assert w.wait_for_inference(60)
    key(qtbot, w, Qt.Key_Space)
    assert w.wait_for_inference(60) and w.state.current.is_empty
    key(qtbot, w, Qt.Key_S, Qt.ControlModifier)
    assert not w.dirty
    edited = w.state.objects[0]
    assert edited.clicks == session1["coins.jpg"].objects[0].clicks + (edited.clicks[-1],)
    # the pixel the real click lands on: the view is zoomed out, so a screen pixel may cover the next image pixel
    landed = tuple(float(math.floor(v)) for v in w.canvas.image_pos(w.canvas.view_pos_of(*EDIT_CLICK)))
    assert max(abs(a - b) for a, b in zip(landed, EDIT_CLICK)) <= 1
    assert (edited.clicks[-1].x, edited.clicks[-1].y) == landed and edited.class_index == coin
    assert not np.array_equal(edited.mask, first_coin), "the edit changed the mask"
    assert fake_dialogs.messages == []
    w.close()
    files2 = disk(samples)
    changed = {k for k in files1 if files1[k] != files2[k]}
    assert changed <= {"annotations/coins.json", "SegmentationClass/coins.png", "SegmentationObject/coins.png"}
    assert "annotations/coins.json" in changed and set(files2) == set(files1)
    loaded = check_image(samples, "coins.jpg", shapes["coins.jpg"])
    assert [o.class_index for o in loaded.objects] == [coin, coin]
    inst = read_index_png(samples / "SegmentationObject" / "coins.png")
    assert inst[EDIT_CLICK[1], EDIT_CLICK[0]] == 1 and inst[COIN[0][1], COIN[0][0]] == 1, \
        "the edited object keeps instance number 1"
    assert inst[COIN[1][1], COIN[1][0]] == 2
    same_objects(loaded.objects[1:], session1["coins.jpg"].objects[1:])

    # ---- second restart: everything as saved after the edit -------------------------------------
    w = start()
    assert w.current_image_path.name == "coins.jpg" and not w.dirty
    same_objects(w.state.objects, loaded.objects)
    assert w.state.objects[0].clicks == edited.clicks
    assert marks(w) == expected_marks
    pick_image(qtbot, w, "astronaut.jpg")
    same_objects(w.state.objects, session1["astronaut.jpg"].objects)
    w.close()
    assert disk(samples) == files2, "the second restart wrote nothing"
    assert fake_dialogs.messages == []
