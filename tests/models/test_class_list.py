"""The class list (models.class_list) and its reconciliation with sidecars (annotator.folder_classes)."""
from __future__ import annotations

import json

import pytest

from annotator.folder_classes import reconcile, table_from_sidecars
from models.class_list import (ClassDef, ClassTable, merge_list, parse_labels, read_any_list, read_class_file,
                               read_labels_file, write_class_file)
from models.errors import ClassListError


def test_labels_txt_honours_ignore_and_background_and_line_order(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text("__ignore__\n_background_\nweed\n\ncrop \n")
    got = read_labels_file(p)
    assert got.names == ("weed", "crop") and got.has_ignore and got.has_background
    table = ClassTable(())
    report = merge_list(table, got)
    # labelme2voc's ids: __ignore__ = -1 (void), _background_ = 0, then 1, 2, … by line
    assert [(c.index, c.name) for c in table] == [(1, "weed"), (2, "crop")] and not report.moved
    plain = parse_labels("a\nb\n")
    assert plain.names == ("a", "b") and not plain.has_ignore and not plain.has_background


@pytest.mark.parametrize("text, words", [
    ("cat\ndog\ncat\n", "line 3: 'cat' is listed twice (first on line 1)"),
    ("cat\nbad\x07name\n", "line 2: a class name cannot hold control characters"),
    ("x" * 101 + "\n", "line 1: a class name has at most 100 characters"),
    ("".join(f"c{i}\n" for i in range(300)), "more than 254 classes"),
])
def test_bad_labels_txt_named_with_its_line(tmp_path, text, words):
    p = tmp_path / "labels.txt"
    p.write_text(text)
    with pytest.raises(ClassListError) as e:
        read_labels_file(p)
    assert str(p) in str(e.value) and words in str(e.value)


def test_classes_json_round_trip_keeps_order_and_previous_names(tmp_path):
    t = ClassTable(())
    t.add("cup")
    t.add("helmet", (1, 2, 3), index=40)
    t.rename(1, "mug")
    assert t.move(40, -1) and [c.name for c in t] == ["helmet", "mug"]
    write_class_file(tmp_path / "classes.json", t)
    back = read_class_file(tmp_path / "classes.json")
    assert back.classes() == t.classes() and back.previous_names(1) == ("cup",)
    assert back.nth(0).index == 40, "the number keys follow the display order, not the index"
    assert isinstance(read_any_list(tmp_path / "classes.json"), ClassTable)


def test_table_refuses_duplicate_names_and_reserved_ones():
    t = ClassTable(())
    t.add("cup")
    for bad in ("cup", " cup ", "__ignore__", "_background_", ""):
        with pytest.raises(ValueError):
            t.add(bad)
    with pytest.raises(ValueError):
        t.rename(1, "_background_")
    t.add("plate")
    with pytest.raises(ValueError):
        t.rename(2, "cup")
    assert t.delete(1).name == "cup" and 1 not in t and t.add("bowl").index == 1


def test_merge_list_keeps_existing_indices_and_moves_taken_ones():
    t = ClassTable(())
    t.add("cup")  # index 1 = VOC's aeroplane index
    report = merge_list(t, ClassTable.voc())
    assert t.find("cup").index == 1 and t.find("bicycle").index == 2
    assert report.moved == [("aeroplane", 1, 21)] and len(report.added) == 20


def test_reconcile_adds_used_classes_and_reports_disagreements_without_renaming():
    t = ClassTable(())
    t.add("helmet", index=21)
    t.add("cone", index=5)
    t.rename(5, "traffic cone")
    sidecar = [ClassDef(21, "cup", (1, 1, 1)), ClassDef(22, "plate", (2, 2, 2)), ClassDef(5, "cone", (0, 0, 0)),
               ClassDef(9, "hacked", (0, 0, 0))]
    r = reconcile(t, sidecar, used=[21, 22, 5, 30])
    assert t.get(21).name == "helmet", "a sidecar never renames the folder's class"
    assert r.disagreements == [(21, "cup", "helmet")], "a previous name (cone) is no disagreement"
    assert [(c.index, c.name) for c in r.added] == [(22, "plate"), (30, "class 30")]
    assert 9 not in t, "an unused class of a sidecar is not merged"
    assert "21" in r.message(__import__("pathlib").Path("a.json"), __import__("pathlib").Path("classes.json"))


def test_table_from_sidecars_newest_wins_and_skips_garbage(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    base = {"format": "ifcn-annotation", "version": 1, "image": "a.png", "size": [4, 4]}
    (ann / "old.json").write_text(json.dumps({**base, "classes": [{"index": 21, "name": "cup", "color": [1, 2, 3]}],
                                              "objects": [], "current": None}, separators=(",", ":")))
    import os
    os.utime(ann / "old.json", (1, 1))
    (ann / "new.json").write_text(json.dumps({**base, "classes": [
        {"index": 21, "name": "helmet", "color": [1, 2, 3]}, {"index": 300, "name": "x", "color": [0, 0, 0]},
        {"index": 22, "name": "bad\x00", "color": [0, 0, 0]}], "objects": [], "current": None},
        separators=(",", ":")))
    (ann / "junk.json").write_text("[" * 10000)
    t, n = table_from_sidecars(tmp_path)
    assert n == 2 and [(c.index, c.name) for c in t] == [(21, "helmet")]
