"""`--paste-prob`: copy-paste augmentation of object-folder items (training.copy_paste)."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from models.errors import IFCNError
from models.spec import ModelSpec
from training import augment, copy_paste
from training.copy_paste import TARGET, VOID, Donor, paste
from training.layouts import ObjectFolder, usable
from training.train import add_arguments, config_from_args

from tests.training.test_layouts import BACKBONE, simple_folder, square, write_folder


def _scene(h: int = 120, w: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """Grey photo; target 1 on a 40 x 40 square, another object 2 beside it, a void strip at the top."""
    rgb = np.full((h, w, 3), 90, np.uint8)
    labels = np.zeros((h, w), np.uint8)
    labels[40:80, 20:60] = TARGET
    labels[40:80, 100:140] = 2
    labels[:6] = VOID
    return rgb, labels


def _donor(size: int = 30, photo: int = 120) -> Donor:
    """A red disc of diameter `size` in a photo of the given side."""
    rgb = np.zeros((photo, photo, 3), np.uint8)
    yy, xx = np.mgrid[:photo, :photo]
    mask = (yy - photo / 2) ** 2 + (xx - photo / 2) ** 2 <= (size / 2) ** 2
    rgb[mask] = (220, 20, 20)
    return Donor(rgb, mask)


def _red(img: np.ndarray) -> np.ndarray:
    """Pixels that are mostly the donor's red disc (its bilinear edge included, the grey photo not)."""
    return img[..., 0].astype(int) - img[..., 1].astype(int) > 60


def _ok(labels: np.ndarray) -> bool:
    return usable(labels == TARGET, labels == VOID, 100, 5)


def test_pasted_target_replaces_the_old_one_which_becomes_another_object(monkeypatch):
    monkeypatch.setattr(copy_paste, "PASTED_TARGET", 1.0)
    rgb, labels = _scene()
    for seed in range(20):
        img, out = paste(rgb, labels, _donor(), np.random.default_rng(seed), usable_target=_ok)
        target = out == TARGET
        assert target.sum() > 300
        assert _red(img)[target].all()  # the target is the pasted disc, in the donor's colours
        old = (labels == TARGET) & ~target
        new_ids = set(np.unique(out[old]).tolist())
        assert new_ids and new_ids.isdisjoint({0, TARGET, 2, VOID}), new_ids  # a fresh object id
        assert (out[labels == 2] == 2)[~target[labels == 2]].all()
        assert (img[~(target | _near(target))] == 90).all()  # nothing but the paste changes the photo


def _near(mask: np.ndarray, r: int = 3) -> np.ndarray:
    import cv2
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)


def test_an_occluder_covers_the_target_which_stays_the_target_elsewhere(monkeypatch):
    monkeypatch.setattr(copy_paste, "PASTED_TARGET", 0.0)
    monkeypatch.setattr(copy_paste, "NEAR_TARGET", 1.0)
    rgb, labels = _scene()
    covered = 0
    for seed in range(30):
        img, out = paste(rgb, labels, _donor(), np.random.default_rng(seed), usable_target=_ok)
        pasted = _red(img)
        ids = set(np.unique(out[pasted]).tolist())
        assert len(ids) == 1 and ids.isdisjoint({0, TARGET, 2, VOID})
        lost = (labels == TARGET) & (out != TARGET)
        assert (out[lost] == ids.pop()).all() and not (pasted & (out == TARGET)).any()
        assert not ((out == TARGET) & (labels != TARGET)).any()
        covered += int(lost.any())
    assert covered >= 25  # centred on a point of the target's box: it nearly always overlaps


def test_an_occluder_that_would_hide_the_target_becomes_the_target(monkeypatch):
    monkeypatch.setattr(copy_paste, "PASTED_TARGET", 0.0)
    rgb, labels = _scene()
    everything_small = lambda m: (m == TARGET).sum() > 100_000  # nothing is usable after an occlusion
    calls = []

    def usable_once(m):
        calls.append(1)
        return len(calls) > 1  # the occluded target: no; the pasted one: yes
    img, out = paste(rgb, labels, _donor(), np.random.default_rng(0), usable_target=usable_once)
    assert _red(img)[out == TARGET].all() and len(calls) == 2
    img2, out2 = paste(rgb, labels, _donor(), np.random.default_rng(0), usable_target=everything_small)
    assert img2 is rgb and out2 is labels  # neither is usable: the item is left as it was


def test_what_cannot_be_pasted_leaves_the_item_as_it_was():
    rgb, labels = _scene()
    empty = Donor(np.zeros((50, 50, 3), np.uint8), np.zeros((50, 50), bool))
    tiny = _donor(size=6)  # ~28 px, under MIN_PASTE_AREA however it is scaled
    for donor in (empty, tiny):
        img, out = paste(rgb, labels, donor, np.random.default_rng(1))
        assert img is rgb and out is labels


def test_a_donor_larger_than_the_photo_is_scaled_to_fit():
    rgb, labels = _scene(60, 80)
    big = _donor(size=400, photo=420)
    for seed in range(10):
        img, out = paste(rgb, labels, big, np.random.default_rng(seed))
        assert img.shape == rgb.shape and out.shape == labels.shape


def test_a_free_label_is_found_when_ids_run_out():
    labels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    labels[labels == 77] = 0
    assert copy_paste._free_label(labels) == 77
    assert copy_paste._free_label(np.zeros((4, 4), np.uint8)) == 2


def test_dataset_pastes_a_share_of_training_items_only(tmp_path):
    from training.object_dataset import ObjectClickDataset

    folder = ObjectFolder(simple_folder(tmp_path / "f", 12, seed=3) / "images")
    other = write_folder(tmp_path / "g", {f"b{i}": {0: square(10, 10, 40)} for i in range(4)}, seed=5)
    sources = [(folder, 1.0), (ObjectFolder(other / "images"), 1.0)]
    spec = ModelSpec(backbone=BACKBONE)

    def dataset(p: float, augment_on: bool = True):
        return ObjectClickDataset(sources, "all", spec, crop_size=64, augment=augment_on, seed=1, epoch_size=60,
                                  aug=augment.AugmentConfig(0.9, 1.1, paste_prob=p))
    on, off, plain = dataset(1.0), dataset(0.0), ObjectClickDataset(sources, "all", spec, crop_size=64, seed=1,
                                                                     epoch_size=60, aug=augment.AugmentConfig(0.9, 1.1))
    changed = 0
    for i in range(60):
        a, b, c = on.arrays(i), off.arrays(i), plain.arrays(i)
        assert all(np.array_equal(b[k], c[k]) for k in ("rgb", "labels", "pos_xy", "neg_xy"))  # p = 0: as before
        changed += int(len(np.unique(a["labels"])) > len(np.unique(b["labels"])))
        assert (a["labels"] == a["object_id"]).any() or len(a["pos_xy"]) == 0
        np.testing.assert_array_equal(on.arrays(i)["rgb"], a["rgb"])  # the same draw for the same (seed, epoch)
    assert changed > 20
    val = dataset(1.0, augment_on=False)
    unpasted = ObjectClickDataset(sources, "all", spec, crop_size=64, augment=False, seed=1, epoch_size=60)
    for i in range(10):
        np.testing.assert_array_equal(val.arrays(i)["labels"], unpasted.arrays(i)["labels"])


def test_the_option_reaches_the_training_config_and_is_checked(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "x", "--out", "y", "--paste-prob", "0.5"])
    assert config_from_args(args).paste_prob == 0.5
    with pytest.raises(ValueError, match="copy-paste probability"):
        augment.AugmentConfig(paste_prob=1.5)
    from training.train_data import make_datasets
    voc = config_from_args(parser.parse_args(["--voc-root", str(tmp_path), "--out", "y", "--paste-prob", "0.5"]))
    with pytest.raises(IFCNError, match="--paste-prob needs object folders"):
        make_datasets(voc, ModelSpec(backbone=BACKBONE), main=True)


def test_a_donor_whose_mask_is_not_its_image_size_is_not_pasted(tmp_path, caplog):
    from PIL import Image

    from training.object_dataset import ObjectClickDataset

    target = write_folder(tmp_path / "t", {"a": {0: square(10, 10, 30)}}, seed=1)
    donor = write_folder(tmp_path / "d", {"b": {0: square(5, 5, 40)}}, seed=2)
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(donor / "images" / "b.png")  # the photo shrunk, not its mask
    spec = ModelSpec(backbone=BACKBONE)
    sources = [(ObjectFolder(target / "images"), 1.0), (ObjectFolder(donor / "images"), 1.0)]
    ds = ObjectClickDataset(sources, "all", spec, crop_size=64, seed=1, epoch_size=20,
                            aug=augment.AugmentConfig(0.9, 1.1, paste_prob=1.0))
    with caplog.at_level("WARNING"):
        for i in [i for i in range(20) if ds._item_at(i).source == 0]:  # the broken folder's own items fail
            a = ds.arrays(i)
            assert set(np.unique(a["labels"]).tolist()) <= {0, 1, 255}  # nothing pasted, nothing crashed
    assert "not the size of its image" in caplog.text
