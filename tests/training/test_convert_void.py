"""`ifcn convert` of what is not a finished object: void-only images, unfinished objects (255 in the PNGs),
and a VOC devkit that never went through the annotator (PNGs only, no sidecars).

Every export is read back with the format's own reader (pycocotools.COCO, labelme's schema and fill
rule, Ultralytics' label parsing).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject, ClassTable, Stroke
from annotator.void_layer import from_mask
from models.cli import main as cli_main
from models.fileio import read_index_png, voc_instances
from tests.training.convert_helpers import (BOX, RING, H, W, check_labelme_schema, coco_masks, filled,
                                            labelme_instances, parse_data_yaml, read_yolo_label, write_image, xx, yy)
from training import convert
from training.formats import VOC_CLASSES, polygons
from training.synthetic import write_synthetic_devkit

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402

VOID_ONLY = (xx >= 10) & (xx < 40) & (yy >= 8) & (yy < 30)
STROKE = Stroke(((50.0, 10.0), (70.0, 10.0)), 4.0)  # an unfinished object drawn with the brush


def _save(folder: Path, name: str, objects=(), current: AnnotObject | None = None, void=None, seed=0) -> None:
    """An image and its annotation written by the annotator's own writer (label_file.save)."""
    write_image(folder / name, seed)
    st = AnnotationState((H, W), ClassTable())
    st.load_objects([AnnotObject(uid=k, class_index=c, mask=m) for k, (c, m) in enumerate(objects)], current,
                    from_mask(void))
    label_file.save(folder, folder / name, st)


@pytest.fixture
def folder(tmp_path) -> Path:
    """v: only a void region; u: a finished dog and an unfinished person; p: only an unfinished object."""
    d = tmp_path / "imgs"
    d.mkdir()
    _save(d, "v.png", void=VOID_ONLY)
    _save(d, "u.png", [(12, BOX)], current=AnnotObject(uid=5, class_index=15, strokes=(STROKE,)), seed=1)
    _save(d, "p.png", current=AnnotObject(uid=5, class_index=15, strokes=(STROKE,)), seed=2)
    return d


def _unfinished(d: Path) -> np.ndarray:
    """The unfinished object's pixels the PNGs of u hold as 255 (outside the finished object)."""
    inst = read_index_png(d / "SegmentationObject" / "u.png")
    assert (inst == 255).any() and not (inst[BOX] == 255).any()
    return inst == 255


def test_void_only_and_unfinished_in_coco(folder, tmp_path):
    out = tmp_path / "coco"
    assert cli_main(["convert", "--to", "coco", "--annotations", str(folder), "--out", str(out)]) == 0
    api = COCO(str(out / "annotations" / "instances_default.json"))
    assert sorted(i["file_name"] for i in api.dataset["images"]) == ["u.png", "v.png"]  # p: nothing finished
    img, anns = coco_masks(api, "v")
    assert (out / "images" / "v.png").is_file() and (img["height"], img["width"]) == (H, W)
    assert len(anns) == 1 and anns[0]["iscrowd"] == 1 and anns[0]["category_id"] == 255
    assert np.array_equal(api.annToMask(anns[0]).astype(bool), VOID_ONLY)  # RLE: exact
    _, anns = coco_masks(api, "u")
    things = [a for a in anns if not a["iscrowd"]]
    assert [a["category_id"] for a in things] == [12] and np.array_equal(api.annToMask(things[0]).astype(bool), BOX)
    crowd = [a for a in anns if a["iscrowd"]]
    assert len(crowd) == 1 and np.array_equal(api.annToMask(crowd[0]).astype(bool), _unfinished(folder))


@pytest.mark.parametrize("masks", [False, True], ids=["polygons", "masks"])
def test_void_only_and_unfinished_in_labelme(folder, tmp_path, masks):
    out = tmp_path / "lm"
    args = ["convert", "--to", "labelme", "--annotations", str(folder), "--out", str(out)]
    assert cli_main(args + (["--masks"] if masks else [])) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["u.json", "v.json"]
    for stem, want in (("v", VOID_ONLY), ("u", _unfinished(folder))):
        doc = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
        check_labelme_schema(doc, out / f"{stem}.json")
        inst = labelme_instances(doc)
        ignore = [m for label, m in inst if label == "__ignore__"]
        assert len(ignore) == 1 and np.array_equal(ignore[0], want if masks else filled(want))
        assert [label for label, _ in inst if label != "__ignore__"] == ([] if stem == "v" else ["dog"])


def test_void_only_image_is_background_in_yolo(folder, tmp_path, capsys):
    out = tmp_path / "yolo"
    assert cli_main(["convert", "--to", "yolo", "--annotations", str(folder), "--out", str(out)]) == 0
    assert "2 ignore region(s) not written" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "images" / "train").iterdir()) == ["u.png", "v.png"]
    assert (out / "labels" / "train" / "v.txt").read_text() == ""  # an empty label file: a background image
    doc = parse_data_yaml((out / "data.yaml").read_text(encoding="utf-8"))
    lines = read_yolo_label(out / "labels" / "train" / "u.txt", H, W)
    assert [doc["names"][k] for k, _ in lines] == ["dog"] and np.array_equal(lines[0][1], BOX)


# ----------------------------------------------------------------------------- a VOC devkit without sidecars

@pytest.mark.parametrize("level", ["VOCdevkit", "VOCdevkit/VOC2012", "."])
def test_voc_devkit_without_sidecars_exports_every_object(tmp_path, level):
    devkit = write_synthetic_devkit(tmp_path / "synth", n_images=3, size=(64, 80))
    base = devkit / "VOC2012"
    assert not (base / "annotations").exists()  # never opened in the annotator
    out = tmp_path / "coco"
    src = (tmp_path / "synth" / level).resolve()
    assert cli_main(["convert", "--to", "coco", "--annotations", str(src), "--out", str(out)]) == 0
    api = COCO(str(out / "annotations" / "instances_default.json"))
    names = {c["id"]: c["name"] for c in api.dataset["categories"]}
    stems = sorted(p.stem for p in (base / "SegmentationObject").glob("*.png"))
    assert sorted(Path(i["file_name"]).stem for i in api.dataset["images"]) == stems
    for stem in stems:
        inst = read_index_png(base / "SegmentationObject" / f"{stem}.png")
        cls = read_index_png(base / "SegmentationClass" / f"{stem}.png")
        want = list(voc_instances(inst, cls, 255))
        assert want, stem
        _, anns = coco_masks(api, stem)
        things = [a for a in anns if not a["iscrowd"]]
        assert [a["category_id"] for a in things] == [c for _, _, c in want]  # the devkit's class numbers
        assert all(names[c] == VOC_CLASSES[c - 1] for _, _, c in want)
        for a, (_, m, _) in zip(things, want):
            assert np.array_equal(api.annToMask(a).astype(bool), m)
        crowd = [a for a in anns if a["iscrowd"]]  # VOC's 255 borders
        assert len(crowd) == 1 and np.array_equal(api.annToMask(crowd[0]).astype(bool), (inst == 255) | (cls == 255))


def test_voc_devkit_classes_in_yolo_and_a_devkit_image_opened_in_the_annotator(tmp_path):
    devkit = write_synthetic_devkit(tmp_path / "synth", n_images=3, size=(64, 80))
    base = devkit / "VOC2012"
    stems = sorted(p.stem for p in (base / "SegmentationObject").glob("*.png"))
    opened = stems[0]  # one image opened and saved in the annotator (sidecar), the others never
    got = label_file.load(base, base / "JPEGImages" / f"{opened}.jpg", (64, 80))
    st = AnnotationState((64, 80), ClassTable())
    st.load_objects(got.objects, None, got.void)
    label_file.save(base, base / "JPEGImages" / f"{opened}.jpg", st)
    assert (base / "annotations" / f"{opened}.json").is_file()
    data = convert.read_annotator_output(devkit)
    assert data.skipped == [] and [i.image.stem for i in data.images] == stems
    out = tmp_path / "yolo"
    assert cli_main(["convert", "--to", "yolo", "--annotations", str(devkit), "--out", str(out)]) == 0
    doc = parse_data_yaml((out / "data.yaml").read_text(encoding="utf-8"))
    for stem in stems:
        inst = read_index_png(base / "SegmentationObject" / f"{stem}.png")
        cls = read_index_png(base / "SegmentationClass" / f"{stem}.png")
        lines = read_yolo_label(out / "labels" / "train" / f"{stem}.txt", 64, 80)
        for _, m, c in voc_instances(inst, cls, 255):
            parts = [lm for k, lm in lines if doc["names"][k] == VOC_CLASSES[c - 1] and (lm & m).any()]
            assert parts, (stem, c)
            got = np.logical_or.reduce(parts)
            assert np.array_equal(got, filled(m))  # Ultralytics' fill gives back the mask, holes filled
            if not polygons.has_holes(m):
                assert (got & m).sum() / (got | m).sum() >= 0.99


def test_ring_stays_exact_in_rle(tmp_path):
    """Sanity for the docs' table: RLE keeps a hole that every polygon format fills."""
    d = tmp_path / "r"
    d.mkdir()
    _save(d, "r.png", [(15, RING)])
    out = tmp_path / "coco"
    assert cli_main(["convert", "--to", "coco", "--annotations", str(d), "--out", str(out)]) == 0
    api = COCO(str(out / "annotations" / "instances_default.json"))
    _, anns = coco_masks(api, "r")
    assert np.array_equal(api.annToMask(anns[0]).astype(bool), RING) and not np.array_equal(RING, filled(RING))


def test_one_pixel_parts_survive_each_formats_own_reader(tmp_path):
    """docs/formats.md: a one-pixel-wide part is a zero-area polygon, given back by each format's own rule."""
    thin = np.zeros((H, W), bool)
    thin[20, 5:40] = True            # a wire, one pixel wide
    thin[30:40, 10:20] = True        # and a box
    thin[45, 60] = True              # and a lone pixel
    d = tmp_path / "t"
    d.mkdir()
    _save(d, "t.png", [(15, thin)])
    for fmt, extra in (("coco", ["--polygons"]), ("labelme", []), ("yolo", [])):
        out = tmp_path / fmt
        assert cli_main(["convert", "--to", fmt, "--annotations", str(d), "--out", str(out), *extra]) == 0
        if fmt == "coco":
            api = COCO(str(out / "annotations" / "instances_default.json"))
            got = api.annToMask(coco_masks(api, "t")[1][0]).astype(bool)
        elif fmt == "labelme":
            got = labelme_instances(json.loads((out / "t.json").read_text(encoding="utf-8")))[0][1]
        else:
            got = np.logical_or.reduce([m for _, m in read_yolo_label(out / "labels" / "train" / "t.txt", H, W)])
        assert np.array_equal(got, thin), fmt
