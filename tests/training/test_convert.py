"""`ifcn convert`: every export read back with the format's own reader, imports opened by the annotator's reader.

Annotations are written with the annotator's own writer (annotator.label_file.save); an ignore region is
VOC's 255 painted into both PNGs, as a VOC devkit (and the annotator's ignore brush) has it.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator import label_file
from annotator.state import AnnotationState
from models.cli import main as cli_main
from models.fileio import read_index_png
from tests.training.convert_helpers import (BOX, CLASSES, RING, TWO_PARTS, VOID_REGION, H, W, annotate,
                                            check_labelme_schema, coco_masks, compose, disc, filled, iou,
                                            labelme_instances, loaded_objects, parse_data_yaml, read_yolo_label,
                                            write_image, write_labelme, xx, yy)
from training import convert
from training.formats import coco, labelme, polygons

pycocotools = pytest.importorskip("pycocotools")
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402


@pytest.fixture
def annotated(tmp_path) -> Path:
    """Three annotated images: ring (person, with a hole), box (dog), two-part object ("stone wall"), void."""
    d = tmp_path / "imgs"
    d.mkdir()
    annotate(d, "a.png", [(15, RING), (12, BOX), (3, TWO_PARTS)], seed=0, void=VOID_REGION)
    annotate(d, "b.png", [(12, BOX), (15, RING)], seed=1)
    annotate(d, "c.png", [(3, TWO_PARTS)], seed=2)
    write_image(d / "not_annotated.png", 3)
    return d


EXPECTED = {"a": [(15, RING), (12, BOX), (3, TWO_PARTS)], "b": [(12, BOX), (15, RING)], "c": [(3, TWO_PARTS)]}


# ----------------------------------------------------------------------------- RLE and polygons

def test_rle_is_byte_identical_to_pycocotools_and_decodes_back():
    rng = np.random.default_rng(0)
    masks = [RING, BOX, np.zeros((H, W), bool), np.ones((H, W), bool), np.ones((1, 1), bool)]
    masks += [cv2.GaussianBlur(rng.random((int(h), int(w))), (0, 0), 1.5) > 0.5
              for h, w in rng.integers(1, 300, (20, 2))]
    masks.append(rng.random((120, 160)) > 0.5)  # long runs and short ones: differences of every sign
    for m in masks:
        ours = coco.encode_mask(m)
        theirs = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours["counts"] == theirs["counts"].decode("ascii")
        assert ours["size"] == list(theirs["size"])
        assert np.array_equal(coco.decode_segmentation(ours, *m.shape), m)
        uncompressed = {"size": list(m.shape), "counts": coco.runs(m.ravel(order="F"))}
        assert np.array_equal(coco.decode_segmentation(uncompressed, *m.shape), m)
        assert coco.bbox(m) == (mask_utils.toBbox(theirs).tolist() if m.any() else [0.0] * 4)


def test_polygons_give_back_the_filled_mask_under_each_readers_rule():
    rng = np.random.default_rng(1)
    for t in range(60):
        h, w = (int(v) for v in rng.integers(4, 70, 2))
        m = cv2.GaussianBlur(rng.random((h, w)), (0, 0), float(rng.uniform(0.5, 3))) > 0.5
        if not m.any():
            continue
        ref = filled(m)
        area = polygons.area_polygons(m)
        rles = mask_utils.frPyObjects([p.ravel().tolist() for p in area], h, w)
        assert np.array_equal(mask_utils.decode(mask_utils.merge(rles)).astype(bool), ref), t  # pycocotools
        assert np.array_equal(polygons.fill_area(area, (h, w)), ref), t                     # our reader
        centre = polygons.centre_polygons(m)
        assert np.array_equal(polygons.fill_centre(centre, (h, w)), ref), t                # labelme's rule
        ultra = np.zeros((h, w), np.uint8)
        for p in centre:                                                                  # Ultralytics' rule
            cv2.fillPoly(ultra, [np.asarray((p + 0.5) / [w, h] * [w, h], dtype=np.int32)], 1)
        assert np.array_equal(ultra.astype(bool), ref), t
        assert polygons.has_holes(m) == (not np.array_equal(m, ref))


def _distance_to_outline(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance of each point (N, 2) to the closed polygon's outline."""
    out = np.full(len(points), np.inf)
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        ab = b - a
        t = np.clip((points - a) @ ab / max(ab @ ab, 1e-12), 0, 1)
        out = np.minimum(out, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return out


def test_our_coco_polygon_reader_agrees_with_pycocotools_on_arbitrary_polygons():
    """Same rule (pixel centre inside, even-odd): pycocotools snaps vertices and edges to 1/5 pixel, so the
    two may differ only at pixels whose centre lies within that snapping of the outline."""
    rng = np.random.default_rng(2)
    for _ in range(40):
        pts = rng.uniform(-5, 85, (int(rng.integers(3, 12)), 2))  # self-intersecting ones too
        poly = [pts.ravel().tolist()]
        theirs = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(poly, H, W))).astype(bool)
        ours = coco.decode_segmentation(poly, H, W)
        ys, xs = np.nonzero(ours ^ theirs)
        assert (_distance_to_outline(np.stack([xs + 0.5, ys + 0.5], 1), pts) < 0.3).all()
        assert (ours ^ theirs).sum() <= 0.1 * max(theirs.sum(), 10)


# ----------------------------------------------------------------------------- export

def test_read_annotator_output(annotated):
    data = convert.read_annotator_output(annotated)
    assert data.skipped == []
    assert [img.image.name for img in data.images] == ["a.png", "b.png", "c.png"]
    assert data.classes[3] == "stone wall" and data.classes[15] == "person" and data.classes[12] == "dog"
    loaded = list(data.loaded())
    assert [(img.height, img.width) for img in loaded] == [(H, W)] * 3
    got = {img.image.stem: [(o.class_index, o.mask) for o in img.objects] for img in loaded}
    for stem, objs in EXPECTED.items():
        assert [c for c, _ in got[stem]] == [c for c, _ in objs]
        assert all(np.array_equal(a, b & ~VOID_REGION) for (_, a), (_, b) in zip(got[stem], objs))
    assert np.array_equal(loaded[0].void, VOID_REGION) and loaded[1].void is None


def test_coco_rle_export_read_by_pycocotools(annotated, tmp_path):
    out = tmp_path / "coco"
    assert cli_main(["convert", "--to", "coco", "--annotations", str(annotated), "--out", str(out)]) == 0
    api = COCO(str(out / "annotations" / "instances_default.json"))
    cats = {c["id"]: c["name"] for c in api.loadCats(api.getCatIds())}
    assert cats[15] == "person" and cats[12] == "dog" and cats[3] == "stone wall" and cats[255] == "__ignore__"
    for stem, objs in EXPECTED.items():
        img, anns = coco_masks(api, stem)
        assert (out / "images" / img["file_name"]).is_file() and (img["height"], img["width"]) == (H, W)
        things = [a for a in anns if not a["iscrowd"]]
        assert [a["category_id"] for a in things] == [c for c, _ in objs]
        for a, (_, m) in zip(things, objs):
            assert np.array_equal(api.annToMask(a).astype(bool), m & ~VOID_REGION)  # exact, the ring's hole too
            assert a["area"] == int(mask_utils.area(api.annToRLE(a)))
        crowd = [a for a in anns if a["iscrowd"]]
        if stem == "a":
            assert len(crowd) == 1 and crowd[0]["category_id"] == 255
            assert np.array_equal(api.annToMask(crowd[0]).astype(bool), VOID_REGION)
        else:
            assert crowd == []


def test_coco_polygon_export_read_by_pycocotools(annotated, tmp_path):
    data = convert.read_annotator_output(annotated)
    summary = convert.export(data, "coco", tmp_path / "coco", polygons=True)
    assert summary.holes_filled == 2  # the ring in a and in b
    api = COCO(str(tmp_path / "coco" / "annotations" / "instances_default.json"))
    for stem, objs in EXPECTED.items():
        _, anns = coco_masks(api, stem)
        things = [a for a in anns if not a["iscrowd"]]
        for a, (_, m) in zip(things, objs):
            assert isinstance(a["segmentation"], list)
            got, want = api.annToMask(a).astype(bool), m & ~VOID_REGION
            assert np.array_equal(got, filled(want))
            if not polygons.has_holes(want):
                assert iou(got, want) >= 0.99
        assert all(isinstance(a["segmentation"], dict) for a in anns if a["iscrowd"])


@pytest.mark.parametrize("masks", [False, True], ids=["polygons", "masks"])
def test_labelme_export_follows_its_schema_and_rasterises_back(annotated, tmp_path, masks):
    out = tmp_path / "lm"
    args = ["convert", "--to", "labelme", "--annotations", str(annotated), "--out", str(out)]
    assert cli_main(args + (["--masks"] if masks else [])) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["a.json", "b.json", "c.json"]
    data = convert.read_annotator_output(annotated)
    assert (out / "labels.txt").read_text().splitlines() == \
           ["__ignore__", "_background_", *[data.classes[i] for i in sorted(data.classes)]]
    for stem, objs in EXPECTED.items():
        doc = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
        check_labelme_schema(doc, out / f"{stem}.json")
        inst = labelme_instances(doc)
        things = [(lab, m) for lab, m in inst if lab != "__ignore__"]
        assert [lab for lab, _ in things] == [CLASSES[c] for c, _ in objs]
        for (_, got), (_, m) in zip(things, objs):
            want = m & ~VOID_REGION
            assert np.array_equal(got, want if masks else filled(want))
            if masks or not polygons.has_holes(want):
                assert iou(got, want) >= 0.99
        ignore = [m for lab, m in inst if lab == "__ignore__"]
        assert (len(ignore) == 1 and np.array_equal(ignore[0], VOID_REGION)) if stem == "a" else ignore == []
        # the reader labelme itself uses (its shape_to_mask rule, PIL), and labelme's own code when installed
        img, _ = labelme.from_labelme(doc, out / doc["imagePath"], {CLASSES[c]: c for c in CLASSES})
        assert [(o.class_index, o.mask.tolist()) for o in img.objects] == \
               [(c, (m & ~VOID_REGION if masks else filled(m & ~VOID_REGION)).tolist()) for c, m in objs]


def test_labelme_export_read_by_labelme_itself_when_installed(annotated, tmp_path):
    """labelme's LabelFile and shapes_to_label (what labelme2voc runs), with the labels.txt written."""
    lm = pytest.importorskip("labelme", reason="labelme is not installed (its schema is checked above)")
    from labelme.utils import shapes_to_label

    data = convert.read_annotator_output(annotated)
    for masks in (False, True):
        out = tmp_path / f"lm{masks}"
        convert.export(data, "labelme", out, masks=masks)
        value = {n: i - 1 for i, n in enumerate((out / "labels.txt").read_text().splitlines())}
        for stem, objs in EXPECTED.items():
            cls, ins = shapes_to_label((H, W), lm.LabelFile(str(out / f"{stem}.json")).shapes, value)
            for k, (c, m) in enumerate(objs, start=1):
                want = m & ~VOID_REGION
                assert np.array_equal(ins == k, want if masks else filled(want))
                assert (cls[ins == k] == value[CLASSES[c]]).all()
            assert np.array_equal(cls == -1, VOID_REGION if stem == "a" else np.zeros((H, W), bool))


def test_yolo_export_parsed_as_ultralytics_does(annotated, tmp_path):
    out = tmp_path / "yolo"
    assert cli_main(["convert", "--to", "yolo", "--annotations", str(annotated), "--out", str(out)]) == 0
    doc = parse_data_yaml((out / "data.yaml").read_text(encoding="utf-8"))
    data = convert.read_annotator_output(annotated)
    names = [data.classes[i] for i in sorted(data.classes)]
    assert doc["nc"] == len(names) and [doc["names"][k] for k in range(len(names))] == names
    assert Path(doc["path"]) == out.resolve() and doc["train"] == "images/train" and doc["val"] == "images/train"
    number = {c: names.index(CLASSES[c]) for c in CLASSES}
    for stem, objs in EXPECTED.items():
        assert (out / "images" / "train" / f"{stem}.png").is_file()
        lines = read_yolo_label(out / "labels" / "train" / f"{stem}.txt", H, W)
        for c, m in objs:  # a part a line: the object is the union of its class's lines that fall in it
            want = m & ~VOID_REGION
            got = np.zeros((H, W), bool)
            for k, lm in lines:
                if k == number[c] and (lm & want).any():
                    got |= lm
            assert np.array_equal(got, filled(want))
            if not polygons.has_holes(want):
                assert iou(got, want) >= 0.99
        assert len(lines) == sum(len(polygons.centre_polygons(m & ~VOID_REGION)) for _, m in objs)


def test_yolo_holdout_split(annotated, tmp_path):
    data = convert.read_annotator_output(annotated)
    convert.export(data, "yolo", tmp_path / "y", holdout=0.34, seed=0)
    doc = parse_data_yaml((tmp_path / "y" / "data.yaml").read_text())
    assert doc["val"] == "images/val"
    assert len(list((tmp_path / "y" / "labels" / "val").glob("*.txt"))) == 1
    assert len(list((tmp_path / "y" / "images" / "train").glob("*.png"))) == 2


def test_export_refuses_a_foreign_folder_and_replaces_its_own(annotated, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    rc = cli_main(["convert", "--to", "coco", "--annotations", str(annotated), "--out", str(foreign)])
    assert rc == 2 and "not written by `ifcn convert`" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    out = tmp_path / "lm"
    data = convert.read_annotator_output(annotated)
    convert.export(data, "labelme", out)
    data.images = data.images[:1]
    convert.export(data, "labelme", out)
    assert sorted(p.name for p in out.iterdir()) == [".ifcn-convert", "a.json", "a.png", "labels.txt"]


def test_export_of_nothing_is_a_message(tmp_path, capsys):
    d = tmp_path / "empty"
    d.mkdir()
    write_image(d / "x.png", 0)
    rc = cli_main(["convert", "--to", "yolo", "--annotations", str(d), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err


# ----------------------------------------------------------------------------- import and round trips


@pytest.mark.parametrize("fmt,extra", [("coco", []), ("coco", ["--polygons"]), ("labelme", []),
                                       ("labelme", ["--masks"])])
def test_round_trip_import_of_export_gives_the_same_objects(annotated, tmp_path, capsys, fmt, extra):
    exported = tmp_path / "exported"
    assert cli_main(["convert", "--to", fmt, "--annotations", str(annotated), "--out", str(exported), *extra]) == 0
    if fmt == "coco":
        src, images = exported / "annotations" / "instances_default.json", exported / "images"
    else:
        src = images = exported
    assert cli_main(["convert", "--from", fmt, "--annotations", str(src), "--out", str(images)]) == 0
    exact = extra == ["--masks"] or (fmt == "coco" and not extra)  # RLE and mask shapes keep holes
    for stem, objs in EXPECTED.items():
        got, names = loaded_objects(images, images / f"{stem}.png")
        assert [names[c] for c, _ in got] == [CLASSES[c] for c, _ in objs]  # same classes, same order
        if fmt == "coco":  # category ids are the class indices; labelme has names only
            assert [c for c, _ in got] == [c for c, _ in objs]
        for (_, g), (_, m) in zip(got, objs):
            want = m & ~VOID_REGION
            assert np.array_equal(g, want if exact else filled(want))
        # the PNGs written are what the annotator writes for those objects and the ignore region (255)
        void = VOID_REGION if stem == "a" else np.zeros((H, W), bool)
        want_inst = compose(got)[1]
        want_inst[void] = 255
        assert np.array_equal(read_index_png(images / "SegmentationObject" / f"{stem}.png"), want_inst)
        assert np.array_equal(label_file.load(images, images / f"{stem}.png", (H, W)).void.mask((H, W)), void)
    # a second import leaves them alone without --overwrite
    capsys.readouterr()
    assert cli_main(["convert", "--from", fmt, "--annotations", str(src), "--out", str(images)]) == 0
    assert "imported 0 image(s)" in capsys.readouterr().out


def test_import_a_labelme_folder_as_labelme_reads_it(tmp_path, capsys):
    d = tmp_path / "lm"
    d.mkdir()
    write_image(d / "cat.png", 0)
    write_labelme(d / "cat.json", "cat.png", [
        {"label": "cat", "points": [[5, 5], [30, 5], [30, 30], [5, 30]], "group_id": 1},
        {"label": "cat", "points": [[40, 5], [50, 15]], "shape_type": "rectangle", "group_id": 1},
        {"label": "_background_", "points": [[10, 10], [14, 10], [14, 14], [10, 14]]},   # a hole in the cat
        {"label": "ball", "points": [[60, 40], [60, 48]], "shape_type": "circle"},
        {"label": "ball", "points": [[20, 45], [25, 45], [25, 50]]},                      # another ball
        {"label": "__ignore__", "points": [[70, 2], [78, 2], [78, 9]]},
        {"label": "path", "points": [[0, 59], [79, 59]], "shape_type": "line"},
    ])
    write_image(d / "dog.png", 1)
    write_labelme(d / "dog.json", "dog.png", [{"label": "dog", "points": [[2, 2], [20, 2], [20, 20]]}])
    (d / "notes.json").write_text('{"not": "labelme"}')
    out = tmp_path / "lm"  # the annotator saves beside the images
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "imported 2 image(s), 4 object(s)" in text and "1 line/point shape(s) skipped" in text
    assert "notes.json" in text and "1 image(s) with an ignore region" in text and "not written" not in text
    got, names = loaded_objects(out, d / "cat.png")
    ignored = label_file.load(out, d / "cat.png", (H, W)).void.mask((H, W))  # the __ignore__ triangle
    assert ignored[3, 76] and ignored.sum() < 50 and (read_index_png(out / "SegmentationClass" / "cat.png")[ignored]
                                                       == 255).all()
    assert [names[c] for c, _ in got] == ["cat", "ball", "ball"]
    cat = np.zeros((H, W), bool)
    cat[5:31, 5:31] = True
    cat[5:16, 40:51] = True
    cat[10:15, 10:15] = False
    assert np.array_equal(got[0][1], cat)
    assert (got[1][1] >= disc(60, 40, 7)).all() and (got[1][1] <= disc(60, 40, 9)).all() and got[2][1][47, 24]
    assert names[got[0][0]] == "cat" and got[0][0] == 8  # a VOC class name takes its VOC index
    dog, names = loaded_objects(out, d / "dog.png")
    assert names[dog[0][0]] == "dog" and dog[0][0] == 12


def test_import_labels_file_and_existing_class_table(tmp_path):
    d = tmp_path / "lm"
    d.mkdir()
    write_image(d / "x.png", 0)
    write_labelme(d / "x.json", "x.png", [{"label": "weed", "points": [[1, 1], [9, 1], [9, 9]]},
                                          {"label": "crop", "points": [[20, 20], [29, 20], [29, 29]]}])
    labels = tmp_path / "labels.txt"
    labels.write_text("__ignore__\n_background_\ncrop\nweed\n")
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--labels", str(labels),
                     "--out", str(d)]) == 0
    got, names = loaded_objects(d, d / "x.png")
    assert [(c, names[c]) for c, _ in got] == [(2, "weed"), (1, "crop")]
    # a second folder imported into the same output: "weed" keeps index 2, a new name takes a free one
    write_image(d / "y.png", 1)
    write_labelme(d / "y.json", "y.png", [{"label": "weed", "points": [[1, 1], [9, 1], [9, 9]]},
                                          {"label": "aphid", "points": [[20, 20], [29, 20], [29, 29]]}])
    (d / "x.json").unlink()
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(d)]) == 0
    got, names = loaded_objects(d, d / "y.png")
    assert [(c, names[c]) for c, _ in got] == [(2, "weed"), (3, "aphid")]
    labels.write_text("crop\n")
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--labels", str(labels),
                     "--out", str(d)]) == 2


def test_import_coco_from_another_tool(tmp_path, capsys):
    d = tmp_path / "coco"
    d.mkdir()
    write_image(d / "p.png", 0)
    write_image(d / "q.png", 1)
    small = disc(30, 30, 6)
    big = disc(30, 30, 20)
    crowd = (xx >= 60) & (yy >= 40)
    doc = {"images": [{"id": 7, "file_name": "p.png", "width": W, "height": H},
                      {"id": 8, "file_name": "q.png", "width": W, "height": H},
                      {"id": 9, "file_name": "unannotated.png", "width": W, "height": H}],
           "categories": [{"id": 1, "name": "person"}, {"id": 90, "name": "toothbrush"}],
           "annotations": [
               {"id": 1, "image_id": 7, "category_id": 90, "iscrowd": 0,
                "segmentation": coco.encode_mask(small)},                                  # compressed RLE
               {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 0,
                "segmentation": {"size": [H, W], "counts": coco.runs(big.ravel(order="F"))}},  # RLE, covers it
               {"id": 3, "image_id": 7, "category_id": 1, "iscrowd": 1,
                "segmentation": {"size": [H, W], "counts": coco.runs(crowd.ravel(order="F"))}},
               {"id": 4, "image_id": 8, "category_id": 1, "iscrowd": 0,
                "segmentation": [[10.0, 10.0, 40.0, 10.0, 40.0, 30.0, 10.0, 30.0]]}]}
    src = d / "instances.json"
    src.write_text(json.dumps(doc))
    assert cli_main(["convert", "--from", "coco", "--annotations", str(src), "--out", str(d)]) == 0
    assert "imported 2 image(s), 3 object(s)" in capsys.readouterr().out
    got, names = loaded_objects(d, d / "p.png")
    # overlapping objects: the larger one first, so the small one stays visible in the PNGs
    assert [(c, names[c]) for c, _ in got] == [(1, "person"), (90, "toothbrush")]
    assert np.array_equal(got[0][1], big) and np.array_equal(got[1][1], small)
    assert (read_index_png(d / "SegmentationObject" / "p.png")[small] == 2).all()
    got, _ = loaded_objects(d, d / "q.png")
    api = COCO(str(src))
    assert np.array_equal(got[0][1], api.annToMask(api.loadAnns([4])[0]).astype(bool))
    assert not (d / "annotations" / "unannotated.json").exists()


def test_import_coco_renumbers_ids_over_254_and_refuses_garbage(tmp_path, capsys):
    d = tmp_path / "c"
    d.mkdir()
    write_image(d / "p.png", 0)
    doc = {"images": [{"id": 1, "file_name": "p.png", "width": W, "height": H}],
           "categories": [{"id": 1000, "name": "gear"}, {"id": 0, "name": "bolt"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1000, "segmentation": coco.encode_mask(BOX)},
                           {"id": 2, "image_id": 1, "category_id": 0, "segmentation": coco.encode_mask(RING)}]}
    (d / "i.json").write_text(json.dumps(doc))
    assert cli_main(["convert", "--from", "coco", "--annotations", str(d / "i.json"), "--out", str(d)]) == 0
    got, names = loaded_objects(d, d / "p.png")
    assert sorted((c, names[c]) for c, _ in got) == [(1, "bolt"), (2, "gear")]
    (d / "bad.json").write_text('{"images": []}')
    capsys.readouterr()
    assert cli_main(["convert", "--from", "coco", "--annotations", str(d / "bad.json"), "--out", str(d)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "not a COCO instances file" in err and "Traceback" not in err


def test_import_skips_mismatched_and_missing_images(tmp_path, capsys):
    d = tmp_path / "lm"
    d.mkdir()
    write_image(d / "x.png", 0)
    write_labelme(d / "x.json", "x.png", [{"label": "a", "points": [[1, 1], [9, 1], [9, 9]]}], h=H + 1)
    write_labelme(d / "gone.json", "gone.png", [{"label": "a", "points": [[1, 1], [9, 1], [9, 9]]}])
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(d)]) == 0
    text = capsys.readouterr().out
    assert "imported 0 image(s)" in text and "x.png" in text and "gone.png" in text
    assert not (d / "annotations").exists() or not list((d / "annotations").iterdir())


def test_import_fills_images_left_empty_and_overwrites_only_when_asked(tmp_path, capsys):
    d = tmp_path / "lm"
    d.mkdir()
    for name in ("empty", "done"):
        write_image(d / f"{name}.png", 0)
        write_labelme(d / f"{name}.json", f"{name}.png", [{"label": "weed", "points": [[1, 1], [9, 1], [9, 9]]}])
    label_file.save(d, d / "empty.png", AnnotationState((H, W)))  # opened and left without objects
    annotate(d, "done.png", [(12, BOX)])
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(d)]) == 0
    assert "imported 1 image(s)" in capsys.readouterr().out
    got, names = loaded_objects(d, d / "empty.png")
    assert [names[c] for c, _ in got] == ["weed"]
    assert [c for c, _ in loaded_objects(d, d / "done.png")[0]] == [12]  # left alone
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(d), "--overwrite"]) == 0
    got, names = loaded_objects(d, d / "done.png")
    assert [names[c] for c, _ in got] == ["weed"]


def test_hostile_files_are_skipped_with_reasons(tmp_path, capsys):
    d = tmp_path / "lm"
    d.mkdir()
    write_image(d / "x.png", 0)
    bad_shapes = [
        [{"label": "a", "points": [[1, "x"], [2, 2], [3, 3]]}],
        [{"label": "a", "points": [[1, 1], [2, 2]]}],                              # a 2-point polygon
        [{"label": "a", "points": [[0, 0], [5, 5]], "shape_type": "mask", "mask": "not base64 png"}],
        [{"label": "a", "points": [[1, 1], [2, 2], [3, 3]], "group_id": "one"}],
    ]
    for k, shapes in enumerate(bad_shapes):
        write_image(d / f"bad{k}.png", k)
        write_labelme(d / f"bad{k}.json", f"bad{k}.png", shapes)
    write_labelme(d / "twin.json", "x.png", [{"label": "a", "points": [[1, 1], [9, 1], [9, 9]]}])
    (d / "huge.json").write_text(json.dumps({"shapes": [], "imagePath": "x.png", "imageHeight": 10**6,
                                             "imageWidth": 10**6}))
    (d / "garbage.json").write_bytes(b"\xff\x00{")
    write_labelme(d / "x.json", "x.png", [{"label": "ok", "points": [[1, 1], [9, 1], [9, 9]]}])
    assert cli_main(["convert", "--from", "labelme", "--annotations", str(d), "--out", str(d)]) == 0
    text = capsys.readouterr().out
    assert "imported 1 image(s), 1 object(s)" in text
    assert "twin.json annotates x.png too" in text
    for name in [f"bad{k}.json" for k in range(len(bad_shapes))] + ["huge.json", "garbage.json"]:
        assert name in text
    coco_doc = {"images": [{"id": 1, "file_name": "x.png", "width": W, "height": H}],
                "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                                 "segmentation": {"size": [H, W], "counts": "\x7f\x7f"}}]}
    (d / "c.json").write_text(json.dumps(coco_doc))
    assert cli_main(["convert", "--from", "coco", "--annotations", str(d / "c.json"), "--out", str(d),
                     "--overwrite"]) == 0
    assert "imported 0 image(s)" in (text := capsys.readouterr().out) and "malformed annotation" in text
