"""`ifcn convert` takes its categories from the output folder's class list (OUT/classes.json), and an import
adds its classes to that list."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject, ClassTable
from models.class_list import read_class_file, write_class_file
from models.cli import main as cli_main

H, W = 40, 60


def _annotated(folder):
    folder.mkdir()
    Image.fromarray(np.full((H, W, 3), 80, np.uint8)).save(folder / "a.png")
    theirs = ClassTable(())
    theirs.add("cup", index=21)
    st = AnnotationState((H, W), theirs)
    m = np.zeros((H, W), bool)
    m[5:20, 5:20] = True
    st.load_objects([AnnotObject(uid=0, class_index=21, mask=m)])
    label_file.save(folder, folder / "a.png", st)
    return folder


def test_export_categories_come_from_the_folders_class_list(tmp_path):
    d = _annotated(tmp_path / "imgs")
    ours = ClassTable(())
    ours.add("mug", index=21)
    ours.add("plate", index=30)
    write_class_file(d / "classes.json", ours)
    assert cli_main(["convert", "--to", "coco", "--annotations", str(d), "--out", str(tmp_path / "coco")]) == 0
    doc = json.loads((tmp_path / "coco" / "annotations" / "instances_default.json").read_text())
    assert {(c["id"], c["name"]) for c in doc["categories"]} == {(21, "mug"), (30, "plate")}
    assert [a["category_id"] for a in doc["annotations"]] == [21]


def test_broken_class_list_stops_the_export_naming_it(tmp_path, capsys):
    d = _annotated(tmp_path / "imgs")
    (d / "classes.json").write_text('{"format": "ifcn-classes", "version": 1, "classes": [{"index": 0}]}')
    assert cli_main(["convert", "--to", "coco", "--annotations", str(d), "--out", str(tmp_path / "coco")]) == 2
    err = capsys.readouterr().err
    assert str(d / "classes.json") in err and "Traceback" not in err


def test_import_adds_its_classes_to_the_folders_list(tmp_path):
    d = tmp_path / "lm"
    d.mkdir()
    Image.fromarray(np.full((H, W, 3), 80, np.uint8)).save(d / "x.png")
    (d / "x.json").write_text(json.dumps({
        "version": "5.0.0", "flags": {}, "imagePath": "x.png", "imageData": None, "imageHeight": H, "imageWidth": W,
        "shapes": [{"label": "weed", "points": [[1, 1], [20, 1], [20, 20]], "shape_type": "polygon",
                    "group_id": None, "flags": {}}]}))
    existing = ClassTable(())
    existing.add("crop")
    write_class_file(d / "classes.json", existing)
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(d)]) == 0
    listed = read_class_file(d / "classes.json")
    assert listed.find("crop").index == 1 and listed.find("weed").index == 2
