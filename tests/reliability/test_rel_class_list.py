"""Hostile class lists (classes.json, labels.txt) and hostile sidecar class tables: refused with a message
naming the file, in bounded time, never renaming a class for the session, the broken file kept."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from annotator import label_file
from annotator.app import main as annotate_main
from annotator.state import AnnotationState, AnnotObject, ClassTable
from models.class_list import read_class_file, read_folder_classes, read_labels_file
from models.errors import ClassListError
from tests.reliability.hostile import deadline, hostile_class_files, write

SHAPE = (40, 56)


def _folder(tmp_path, name):
    from PIL import Image
    folder = tmp_path / name
    folder.mkdir()
    Image.fromarray(np.full(SHAPE + (3,), 90, np.uint8)).save(folder / "im0.png")
    return folder


def _specials(folder, name):
    """A FIFO and a link to /dev/zero under `name` in `folder`: what a class list must never block on."""
    fifo, zero = folder / f"fifo_{name}", folder / f"zero_{name}"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", zero)
    return {"fifo": fifo, "dev_zero": zero}


def test_hostile_classes_json_is_refused_named_and_kept(tmp_path, window, dialogs_rec, figures):
    cases = hostile_class_files()["classes.json"]
    paths = {}
    for i, (name, content) in enumerate(cases.items()):
        folder = _folder(tmp_path, f"c{i}")
        paths[name] = write(folder, {"classes.json": content})[0]
    spec = _folder(tmp_path, "special")
    for name, p in _specials(spec, "classes.json").items():
        paths[name] = p
    for name, path in paths.items():
        with deadline(10), pytest.raises(ClassListError) as e:
            read_class_file(path)
        assert str(path) in str(e.value), name
    for name, path in paths.items():
        if path.name != "classes.json":
            continue
        folder = path.parent
        with pytest.raises(ClassListError):
            read_folder_classes(folder)
        dialogs_rec.messages.clear()
        w = window(folder)
        (kind, title, text), = [m for m in dialogs_rec.messages if m[1] == "Cannot read the class list"]
        assert str(path) in text, name
        assert w.classes.get(15).name == "person", "the start list is used instead"
        assert w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object() and w.save(), name
        assert read_folder_classes(folder).get(15).name == "person", "a valid list replaces it on save"
        assert any(p.name.startswith("classes.json.broken-") for p in folder.iterdir()), "the broken one is kept"
        w.close()
    figures["hostile_files"] += len(paths)


def test_hostile_labels_txt_is_refused_by_reader_and_cli(tmp_path, capsys, figures):
    paths = {name: write(tmp_path / name, {"labels.txt": content})[0]
             for name, content in hostile_class_files()["labels.txt"].items()}
    paths.update(_specials(tmp_path, "labels.txt"))
    for name, path in paths.items():
        with deadline(10), pytest.raises(ClassListError) as e:
            read_labels_file(path)
        assert str(path) in str(e.value), name
        with deadline(10):
            assert annotate_main([str(tmp_path), "--labels", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert str(path) in err and "Traceback" not in err, name
    figures["hostile_files"] += len(paths)


def test_hostile_sidecar_class_table_cannot_rename_classes(tmp_path, window, dialogs_rec, figures):
    """Issue 16: a sidecar's class table renamed classes for the whole session."""
    folder = _folder(tmp_path, "rename")
    from PIL import Image
    Image.fromarray(np.full(SHAPE + (3,), 60, np.uint8)).save(folder / "im1.png")
    m = np.zeros(SHAPE, bool)
    m[5:15, 5:15] = True
    evil = ClassTable(())
    for i in range(1, 255):  # every index renamed, one of them used by its object
        evil.add(f"evil{i}", index=i)
    st = AnnotationState(SHAPE, evil)
    st.load_objects([AnnotObject(uid=0, class_index=15, mask=m)])
    label_file.save(folder, folder / "im0.png", st)
    doc = json.loads((folder / "annotations" / "im0.json").read_text())
    assert len(doc["classes"]) == 254
    from models.class_list import write_class_file
    write_class_file(folder / "classes.json", ClassTable.voc())  # the folder's list (the truth)
    w = window(folder)
    assert [c.name for c in w.classes][:20] == [c.name for c in ClassTable.voc()]
    assert len(w.classes) == 20, "the sidecar's unused classes are not merged"
    (kind, title, text), = [m for m in dialogs_rec.messages if m[1] == "Class names disagree"]
    assert "'evil15'" in text and "'person'" in text and str(folder / "annotations" / "im0.json") in text
    assert w.go_to(1) and w.classes.get(15).name == "person", "not renamed for the rest of the session"
    assert read_folder_classes(folder).get(15).name == "person"
    figures["hostile_files"] += 1
