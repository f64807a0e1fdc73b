"""Real-photo data readers on small generated folders: layout detection and refusals, object folders
(splits, 128 = ignore, overlapping objects), `ifcn noc --data`, by-source sampling and `ifcn train --data`."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.backbones import BACKBONES
from models.errors import DatasetError
from models.spec import ModelSpec
from training.layouts import (LAYOUT_COLLECTION, LAYOUT_INSTANCES, LAYOUT_OBJECTS, LAYOUT_VOC, ObjectFolder,
                              detect_layout, open_object_sources)

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
BACKBONE = "efficientnet_lite0" if "efficientnet_lite0" in BACKBONES else "resnet18"
H, W = 64, 64


def ifcn(*args, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "models.cli", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def square(y0: int, x0: int, size: int, band: int = 0) -> np.ndarray:
    """A mask file's values: 255 on a size x size square at (y0, x0), 128 on a `band`-px ring around it."""
    m = np.zeros((H, W), np.uint8)
    if band:
        m[max(0, y0 - band):y0 + size + band, max(0, x0 - band):x0 + size + band] = 128
    m[y0:y0 + size, x0:x0 + size] = 255
    return m


def write_folder(root: Path, masks: dict[str, dict[int, np.ndarray]], seed: int = 0) -> Path:
    """An object folder: images/<stem>.png (noise, each object painted red) + masks/<stem>_<k>.png."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for stem, objs in masks.items():
        rgb = rng.integers(0, 50, (H, W, 3), dtype=np.uint8)
        for m in objs.values():
            rgb[m == 255] = (210, 40, 40)
        Image.fromarray(rgb).save(root / "images" / f"{stem}.png")
        for k, m in objs.items():
            Image.fromarray(m).save(root / "masks" / f"{stem}_{k}.png")
    return root


def simple_folder(root: Path, n: int, seed: int = 0) -> Path:
    """n images with one 24-px square object each (usable for training: area 576, room for clicks)."""
    return write_folder(root, {f"im{i:03d}": {0: square(8 + i % 20, 10 + i % 25, 24, band=2)} for i in range(n)},
                        seed)


# ------------------------------------------------------------------ layout detection

def test_detects_each_layout(tmp_path):
    objects = simple_folder(tmp_path / "objects", 2)
    assert detect_layout(objects) == LAYOUT_OBJECTS

    inst = tmp_path / "instances"
    (inst / "images").mkdir(parents=True)
    (inst / "masks").mkdir()
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(inst / "images" / "a.png")
    Image.fromarray((square(4, 4, 20) > 0).astype(np.uint8)).save(inst / "masks" / "a.png")  # values 0 / 1
    assert detect_layout(inst) == LAYOUT_INSTANCES

    coll = tmp_path / "collection"
    simple_folder(coll / "A", 1)
    simple_folder(coll / "B", 1)
    (coll / "README.md").write_text("a file beside the sources")
    assert detect_layout(coll) == LAYOUT_COLLECTION
    assert [f.name for f, _ in open_object_sources([str(coll)])] == ["A", "B"]

    voc = tmp_path / "voc"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "SegmentationObject").mkdir()
    assert detect_layout(voc) == LAYOUT_VOC


@pytest.mark.parametrize("case", ["both mask kinds", "devkit and images/+masks/", "no masks", "unknown"])
def test_ambiguous_or_unusable_folders_are_refused_naming_the_folder(tmp_path, case):
    root = tmp_path / "data"
    if case == "both mask kinds":
        write_folder(root, {"a": {0: square(4, 4, 20)}, "b": {0: square(8, 8, 20)}})
        Image.fromarray((square(8, 8, 20) > 0).astype(np.uint8)).save(root / "masks" / "b.png")
        with pytest.raises(DatasetError, match="ambiguous") as e:
            detect_layout(root)
        with pytest.raises(DatasetError, match="ambiguous"):
            ObjectFolder(root / "images")
    elif case == "devkit and images/+masks/":
        simple_folder(root, 1)
        (root / "JPEGImages").mkdir()
        with pytest.raises(DatasetError, match="ambiguous") as e:
            detect_layout(root)
    elif case == "no masks":
        simple_folder(root, 1)
        for p in (root / "masks").iterdir():
            p.unlink()
        with pytest.raises(DatasetError, match="no mask matches") as e:
            detect_layout(root)
    else:
        (root / "photos").mkdir(parents=True)
        with pytest.raises(DatasetError, match="unknown data layout") as e:
            detect_layout(root)
    assert str(root) in str(e.value)


# ------------------------------------------------------------------ object folders

def test_splits_are_disjoint_cover_all_and_stable(tmp_path):
    big = ObjectFolder(simple_folder(tmp_path / "big", 60) / "images")
    train, val, every = big.image_ids("train"), big.image_ids("val"), big.image_ids("all")
    assert val and train and not set(train) & set(val)
    assert sorted(train + val) == every and len(every) == 60
    assert big.image_ids(None) == every
    # membership depends on the stem only: a folder with a subset of the images splits them alike
    small = ObjectFolder(simple_folder(tmp_path / "small", 30) / "images")
    assert set(small.image_ids("val")) == {i for i in val if i < "im030"}
    assert ObjectFolder(tmp_path / "big" / "images").image_ids("val") == val  # read again: same split
    with pytest.raises(DatasetError, match="unknown split"):
        big.image_ids("test")


def test_128_is_ignore_and_overlapping_objects_are_read_one_at_a_time(tmp_path):
    person, coat = square(8, 8, 40, band=3), square(20, 16, 24)  # the coat lies inside the person
    folder = ObjectFolder(write_folder(tmp_path / "f", {"p": {0: person, 1: coat}}) / "images")
    objs = folder.load_masks("p")
    assert [k for k, _, _ in objs] == [0, 1]
    (_, obj0, ign0), (_, obj1, ign1) = objs
    np.testing.assert_array_equal(obj0, person == 255)
    np.testing.assert_array_equal(ign0, person == 128)
    np.testing.assert_array_equal(obj1, coat == 255)
    assert not ign1.any()
    assert (obj0 & obj1).sum() == (coat == 255).sum()  # the overlap belongs to both
    _, labels0 = folder.load_object("p", 0)
    _, labels1 = folder.load_object("p", 1)
    np.testing.assert_array_equal(labels0 == 1, person == 255)  # the whole person, coat included
    np.testing.assert_array_equal(labels0 == 255, person == 128)
    np.testing.assert_array_equal(labels1 == 1, coat == 255)
    assert ((labels1 == 2) == ((person == 255) & (coat != 255))).all()  # the person is another object
    # a 128 pixel is unlabelled for the whole image: for the coat too it is neither object nor background
    np.testing.assert_array_equal(labels1 == 255, person == 128)


# ------------------------------------------------------------------ ifcn noc --data

def test_noc_on_an_object_folder_leaves_128_out_of_the_iou(tmp_path):
    """The object's outer rim is marked 128: a prediction that takes the whole red square is perfect when
    the rim is ignored and far from it when the rim counted as background."""
    from models.clicks import Click
    from models.metrics import interior_point, iou
    from training.noc import load_predictor

    inner = square(22, 22, 20, band=10)  # 20-px object inside a 40-px red square whose rim is 128
    other = square(6, 6, 24)
    root = write_folder(tmp_path / "data", {"a": {0: inner}, "b": {0: other}})
    rgb = np.array(Image.open(root / "images" / "a.png"))
    rgb[inner > 0] = (210, 40, 40)  # the rim is red too: the image says it is part of the object
    Image.fromarray(rgb).save(root / "images" / "a.png")
    out = tmp_path / "noc"
    r = ifcn("noc", "--data", root, "--limit", "2", "--no-brs", "--checkpoint", "grabcut", "--out", out,
             "--max-clicks", "3")
    assert r.returncode == 0, r.stderr
    assert f"data: {root}: object folder" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objects"] == 2 and summary["split"] == "all" and summary["source"] == str(root)
    rows = {row["image"]: row for row in csv.DictReader((out / "per_object.csv").open())}
    # the first click of the same predictor, in process: which IoU did the benchmark count?
    p = load_predictor("grabcut", brs=False)
    p.set_image(rgb)
    gt, ignore = inner == 255, inner == 128
    x, y = interior_point(gt)
    pred = p.predict([Click(float(x), float(y), True)]) >= 0.5
    with_ignore, counted = iou(pred, gt, ignore), iou(pred, gt, None)
    assert abs(with_ignore - counted) > 0.2  # counting the 128 pixels would change this IoU
    assert float(rows["a"]["iou_1"]) == pytest.approx(with_ignore, abs=1e-4)


def test_noc_min_area_evaluates_only_the_large_objects_and_refuses_a_negative_one(tmp_path):
    root = write_folder(tmp_path / "data", {"a": {0: square(4, 4, 10), 1: square(20, 20, 24)},
                                            "b": {0: square(6, 6, 8)}})
    out = tmp_path / "noc"
    r = ifcn("noc", "--data", root, "--min-area", "200", "--checkpoint", "grabcut", "--out", out, "--max-clicks", "2")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objects"] == 1 and summary["min_area"] == 200  # 24 x 24 = 576 px kept; 100 and 64 px left out
    rows = list(csv.DictReader((out / "per_object.csv").open()))
    assert [(row["image"], row["object"], row["area"]) for row in rows] == [("a", "1", "576")]
    bad = ifcn("noc", "--data", root, "--min-area", "-1", "--checkpoint", "grabcut", "--out", tmp_path / "bad")
    assert bad.returncode != 0 and "--min-area -1: give a number of pixels, 0 or more." in bad.stderr
    assert not (tmp_path / "bad").exists()


# ------------------------------------------------------------------ training datasets

def test_items_are_drawn_by_source_in_proportion_to_the_weights(tmp_path):
    from training.object_dataset import ObjectClickDataset

    few = ObjectFolder(simple_folder(tmp_path / "few", 2, seed=1) / "images")
    many = ObjectFolder(simple_folder(tmp_path / "many", 24, seed=2) / "images")
    spec = ModelSpec(backbone=BACKBONE)
    ds = ObjectClickDataset([(few, 1.0), (many, 1.0)], "all", spec, crop_size=64, epoch_size=400)
    assert ds.describe()["sources"] == {"few": {"objects": 2, "weight": 0.5}, "many": {"objects": 24, "weight": 0.5}}
    for epoch in range(3):
        ds.set_epoch(epoch)
        counts = ds.source_counts()
        assert sum(counts.values()) == 400
        assert abs(counts["few"] - counts["many"]) < 60, counts  # by object it would be 31 : 369
    ds.set_epoch(0)
    first = ds.source_counts()
    ds.set_epoch(1)
    ds.set_epoch(0)
    assert ds.source_counts() == first  # the draw depends on (seed, epoch) only
    skewed = ObjectClickDataset([(few, 3.0), (many, 1.0)], "all", spec, crop_size=64, epoch_size=400)
    counts = skewed.source_counts()
    assert 240 < counts["few"] < 360, counts


def test_ignore_pixels_become_ignore_in_items(tmp_path):
    from training.object_dataset import ObjectClickDataset

    mask = square(16, 16, 28, band=4)
    folder = ObjectFolder(write_folder(tmp_path / "f", {"a": {0: mask}}) / "images")
    ds = ObjectClickDataset([(folder, 1.0)], "all", ModelSpec(backbone=BACKBONE), crop_size=64, augment=False)
    item = ds[0]
    np.testing.assert_array_equal(item["ignore"][0].numpy() == 1, mask == 128)
    np.testing.assert_array_equal(item["target"][0].numpy() == 1, mask == 255)
    assert item["input"].shape[-2:] == (64, 64)


@pytest.mark.slow
def test_train_on_two_weighted_object_folders(tmp_path):
    a = simple_folder(tmp_path / "A", 3, seed=1)
    b = simple_folder(tmp_path / "B", 12, seed=2)
    run = tmp_path / "run"
    r = ifcn("train", "--data", f"{a}:1", "--data", f"{b}:1", "--max-steps", "2", "--batch-size", "2",
             "--crop-size", "64", "--weights", "none", "--workers", "0", "--val-limit", "2", "--backbone",
             BACKBONE, "--device", "cpu", "--no-bar", "--out", run, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"data: {a}: object folder" in r.stderr and f"data: {b}: object folder" in r.stderr
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
