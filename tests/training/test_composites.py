"""Composite devkit: VOC layout, palette masks with a void band, real objects, photo split kept disjoint."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from models.errors import DatasetError
from models.fileio import read_image, read_index_png
from training import composites
from training.composites import (PhotoSource, collect_photos, composite_image, split_photos,
                                 write_composite_devkit)

# Each test photo has its own colour code: which channels lie above the pixel's mean.
CODES = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1)]


def _code_map(rgb: np.ndarray) -> np.ndarray:
    """Per pixel, the code of channels above the pixel mean as an int 0..7."""
    f = rgb.astype(np.float32)
    above = f > f.mean(axis=2, keepdims=True)
    return above[..., 0] * 4 + above[..., 1] * 2 + above[..., 2]


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i, code in enumerate(CODES):
        base = np.where(np.array(code, bool), 210, 35).astype(np.float32)
        img = base + rng.normal(0, 12, (96, 128, 3))  # textured, but clearly of one colour code
        cv2.imwrite(str(d / f"photo{i}.png"), np.clip(img, 0, 255).astype(np.uint8)[..., ::-1])
    return d


@pytest.fixture(scope="module")
def devkit(photo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("comp")
    return write_composite_devkit([photo_dir], out, n_train=4, n_val=2, size=128, seed=3, workers=1)


def _ids(base: Path, split: str) -> list[str]:
    return (base / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()


def test_layout_and_palette_masks(devkit: Path) -> None:
    base = devkit / "VOC2012"
    train, val = _ids(base, "train"), _ids(base, "val")
    assert len(train) == 4 and len(val) == 2 and _ids(base, "trainval") == train + val
    for image_id in train + val:
        assert read_image(base / "JPEGImages" / f"{image_id}.jpg").shape == (128, 128, 3)
        for sub in ("SegmentationObject", "SegmentationClass"):
            with Image.open(base / sub / f"{image_id}.png") as im:
                assert im.mode == "P" and im.size == (128, 128)
        obj = read_index_png(base / "SegmentationObject" / f"{image_id}.png")
        cls = read_index_png(base / "SegmentationClass" / f"{image_id}.png")
        assert np.array_equal(obj == 255, cls == 255)
        assert np.array_equal((obj > 0) & (obj < 255), cls == 1)


def test_void_band_separates_every_label(devkit: Path) -> None:
    base = devkit / "VOC2012"
    for image_id in _ids(base, "trainval"):
        obj = read_index_png(base / "SegmentationObject" / f"{image_id}.png").astype(np.int32)
        assert (obj == 255).any()
        for a, b in ((obj[:, 1:], obj[:, :-1]), (obj[1:], obj[:-1])):
            touching = (a != b) & (a != 255) & (b != 255)
            assert not touching.any(), f"{image_id}: labels meet without a void band"
        # the band is thin (about 5 px across), not a blanket over the objects
        half_width = cv2.distanceTransform((obj == 255).astype(np.uint8), cv2.DIST_L2, 5).max()
        assert 1.0 <= half_width <= 5.0, f"{image_id}: void band half-width {half_width:.1f} px"


def test_objects_are_real_sized_instances(devkit: Path) -> None:
    base = devkit / "VOC2012"
    manifest = json.loads((base / "composites.json").read_text())
    for image_id in _ids(base, "trainval"):
        obj = read_index_png(base / "SegmentationObject" / f"{image_id}.png")
        labels = sorted(set(np.unique(obj)) - {0, 255})
        assert 1 <= len(labels) <= 4 and labels == list(range(1, len(labels) + 1))
        for k in labels:
            assert (obj == k).sum() >= 0.3 * manifest["min_area"], f"{image_id}: object {k} is a sliver"


def test_val_photos_never_used_in_train(devkit: Path, photo_dir: Path) -> None:
    base = devkit / "VOC2012"
    manifest = json.loads((base / "composites.json").read_text())
    train_p, val_p = set(manifest["train_photos"]), set(manifest["val_photos"])
    assert val_p and train_p and not (train_p & val_p)
    assert train_p | val_p == {str(p) for p in photo_dir.glob("*.png")}
    # the pixels say the same: every val image is made of the val photos' colour codes only
    val_codes = {4 * c[0] + 2 * c[1] + c[2] for i, c in enumerate(CODES) if str(photo_dir / f"photo{i}.png") in val_p}
    for split, want in (("val", True), ("train", False)):
        for image_id in _ids(base, split):
            codes = _code_map(read_image(base / "JPEGImages" / f"{image_id}.jpg"))
            share = np.isin(codes, list(val_codes)).mean()
            assert share > 0.9 if want else share < 0.1, f"{split} {image_id}: {share:.2f} of pixels from val photos"


def test_generation_is_deterministic_across_workers(photo_dir: Path, tmp_path: Path) -> None:
    one = write_composite_devkit([photo_dir], tmp_path / "a", 3, 1, size=96, seed=5, workers=1) / "VOC2012"
    two = write_composite_devkit([photo_dir], tmp_path / "b", 3, 1, size=96, seed=5, workers=2) / "VOC2012"
    for image_id in _ids(one, "trainval"):
        for rel in (f"JPEGImages/{image_id}.jpg", f"SegmentationObject/{image_id}.png"):
            assert (one / rel).read_bytes() == (two / rel).read_bytes()


def test_shapes_vary_holes_and_parts() -> None:
    rng = np.random.default_rng(1)
    photos = [np.full((64, 64, 3), v, np.uint8) for v in (40, 200)]
    holes = parts = 0
    for _ in range(40):
        _, obj, _ = composite_image(rng, photos, 128, 64)
        for k in set(np.unique(obj)) - {0, 255}:
            m = np.pad((obj == k).astype(np.uint8), 1)
            parts += cv2.connectedComponents(m)[0] - 1 > 1          # background label 0 not counted
            holes += cv2.connectedComponents(1 - m, connectivity=4)[0] - 1 > 1  # enclosed outside region
    assert parts > 0 and holes > 0


def test_split_needs_two_photos_and_is_deterministic(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="at least 2 photos"):
        split_photos([tmp_path / "one.jpg"], seed=0)
    pool = [tmp_path / f"p{i}.jpg" for i in range(20)]
    a, b = split_photos(pool, seed=1), split_photos(list(reversed(pool)), seed=1)
    assert a == b and len(a[1]) == 4 and not set(a[0]) & set(a[1])
    assert split_photos(pool, seed=2) != a


def test_collect_photos_copies_known_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "cat.png"), np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setattr(composites, "PHOTO_SOURCES", (
        PhotoSource("demo", "demo-package", str(src), ("cat.png", "missing.png"), "CC0"),
        PhotoSource("gone", "absent", str(tmp_path / "nowhere"), ("x.png",), "CC0")))
    got = collect_photos(tmp_path / "pool")
    assert [p.name for p in got] == ["demo_cat.png"] and got[0].read_bytes() == (src / "cat.png").read_bytes()
    assert "demo_cat.png\tdemo-package" in (tmp_path / "pool" / "SOURCES.tsv").read_text()
    monkeypatch.setattr(composites, "PHOTO_SOURCES", ())
    with pytest.raises(DatasetError, match="apt-get install"):
        collect_photos(tmp_path / "empty")


def test_cli_reports_a_missing_photo_folder(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    composites.add_arguments(parser)
    args = parser.parse_args(["--photos", str(tmp_path / "none"), "--out", str(tmp_path / "out")])
    with pytest.raises(DatasetError, match="no such photo folder"):
        composites.run(args)


def test_multi_texture_objects_have_parts_of_other_photos() -> None:
    """With --multi-texture 1 an object shows several photos' colours; with 0 the draws are unchanged."""
    photos = [np.full((64, 64, 3), v, np.uint8) for v in (20, 90, 160, 230)]
    multi = 0
    for i in range(20):
        rgb, obj, _ = composite_image(np.random.default_rng(i), photos, 128, 64, multi_texture=1.0)
        for k in set(np.unique(obj)) - {0, 255}:
            inner = cv2.erode((obj == k).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            if inner.sum() < 200:
                continue
            values = rgb[inner].mean(axis=1)
            multi += np.ptp(np.percentile(values, [5, 95])) > 60  # two textures far apart in brightness
    assert multi >= 5
    a = composite_image(np.random.default_rng(7), photos, 128, 64)
    b = composite_image(np.random.default_rng(7), photos, 128, 64, multi_texture=0.0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
