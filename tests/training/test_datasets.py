"""ClickDataset: the three modes, tensor shapes and values, augmentation keeps clicks, bad images skipped."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from models.clicks import clicks_from_arrays
from models.errors import DatasetError
from models.inputs import make_input
from models.spec import ModelSpec
from training import augment
from training.datasets import make_dataset
from training.pairs import generate_pairs
from training.voc import VOCDevkit

SPEC = ModelSpec()
CROP = 64


@pytest.fixture(scope="module")
def pairs(synthetic_devkit):
    return generate_pairs(synthetic_devkit, "train", pairs_per_object=3, workers=1, progress=False)


def test_lengths_of_the_three_modes(synthetic_devkit, pairs):
    by_img = make_dataset(synthetic_devkit, "train", "image", SPEC, pairs, crop_size=CROP)
    by_pair = make_dataset(synthetic_devkit, "train", "pairs", SPEC, pairs, crop_size=CROP)
    rand = make_dataset(synthetic_devkit, "train", "random", SPEC, crop_size=CROP)
    assert len(by_img) == len(pairs.image_ids)
    assert len(by_pair) == len(pairs)
    assert len(rand) == pairs.summary["objects_kept"]
    assert by_img.skipped == by_pair.skipped == rand.skipped == 0


@pytest.mark.parametrize("mode", ["image", "pairs", "random"])
@pytest.mark.parametrize("aug", [True, False])
def test_item_tensors(synthetic_devkit, pairs, mode, aug):
    ds = make_dataset(synthetic_devkit, "train", mode, SPEC, pairs, crop_size=CROP, augment=aug, seed=1)
    item = ds[1]
    x, t, ign = item["input"], item["target"], item["ignore"]
    assert x.shape == (5, CROP, CROP) and t.shape == (1, CROP, CROP) and ign.shape == (1, CROP, CROP)
    assert x.dtype == t.dtype == ign.dtype == torch.float32
    assert set(torch.unique(t).tolist()) <= {0.0, 1.0} and t.sum() > 0
    assert set(torch.unique(ign).tolist()) <= {0.0, 1.0} and ign.sum() > 0  # void borders
    assert not (t.bool() & ign.bool()).any()
    a = ds.arrays(1)
    pos, neg = a["pos_xy"], a["neg_xy"]
    assert len(pos) >= 1
    # Distance channels: 0 exactly at the clicks, the core encoding everywhere.
    assert torch.all(x[3, pos[:, 1], pos[:, 0]] == 0)
    if len(neg):
        assert torch.all(x[4, neg[:, 1], neg[:, 0]] == 0)
    else:
        assert torch.all(x[4] == 1.0)
    expected = make_input(a["rgb"], clicks_from_arrays(pos, neg), SPEC)
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-6)
    # Positive clicks lie on the object, negatives off it, none on void.
    assert (t[0, pos[:, 1], pos[:, 0]] == 1).all()
    assert (t[0, neg[:, 1], neg[:, 0]] == 0).all()


def test_augmentation_keeps_positive_clicks_on_object(synthetic_devkit, pairs):
    ds = make_dataset(synthetic_devkit, "train", "pairs", SPEC, pairs, crop_size=48, augment=True, seed=3)
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(0, len(ds), 2):
            a = ds.arrays(i)
            pos = a["pos_xy"]
            assert len(pos) >= 1
            assert (a["labels"][pos[:, 1], pos[:, 0]] == a["object_id"]).all()
            neg = a["neg_xy"]
            assert (a["labels"][neg[:, 1], neg[:, 0]] != a["object_id"]).all()


def test_determinism_and_epochs(synthetic_devkit, pairs):
    a = make_dataset(synthetic_devkit, "train", "random", SPEC, crop_size=CROP, seed=5)
    b = make_dataset(synthetic_devkit, "train", "random", SPEC, crop_size=CROP, seed=5)
    torch.testing.assert_close(a[0]["input"], b[0]["input"])
    b.set_epoch(1)
    assert not torch.equal(a[0]["input"], b[0]["input"])


def test_validation_fit_is_deterministic_and_padded(synthetic_devkit, pairs):
    ds = make_dataset(synthetic_devkit, "train", "pairs", SPEC, pairs, crop_size=160, augment=False)
    x0, x1 = ds[0], ds[0]
    torch.testing.assert_close(x0["input"], x1["input"])
    # 96x128 image padded to 160x160 at the top-left: padding is ignored and has normalised RGB 0.
    assert (x0["ignore"][0, 96:, :] == 1).all() and (x0["ignore"][0, :, 128:] == 1).all()
    assert x0["input"][:3, 100:, 140:].abs().max() < 0.02
    # Downscaling for a crop smaller than the image keeps the whole image.
    small = make_dataset(synthetic_devkit, "train", "pairs", SPEC, pairs, crop_size=64, augment=False)
    assert (small[0]["ignore"][0, :48] == 0).any() and (small[0]["ignore"][0, 48:] == 1).all()


def test_dataloader_batches(synthetic_devkit, pairs):
    ds = make_dataset(synthetic_devkit, "train", "image", SPEC, pairs, crop_size=CROP)
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch["input"].shape == (3, 5, CROP, CROP)


def test_augment_functions_move_clicks_with_pixels():
    rgb = np.zeros((30, 40, 3), np.uint8)
    labels = np.zeros((30, 40), np.uint8)
    labels[10:20, 5:15] = 1
    pos = np.array([[7, 12], [13, 18]])
    r, l, p, n = augment.hflip(rgb, labels, pos, np.zeros((0, 2)))
    assert (l[p[:, 1], p[:, 0]] == 1).all() and p[0, 0] == 40 - 1 - 7
    r, l, p, n = augment.resize(r, l, p, n, (80, 60))
    assert l.shape == (60, 80) and (l[p[:, 1], p[:, 0]] == 1).all()
    r, l, p, n = augment.crop(r, l, p, n, 40, 30, 32, (1, 2, 3))
    assert r.shape == (32, 32, 3) and len(p) == 1 and (l[p[:, 1], p[:, 0]] == 1).all()
    assert (r[-2:, -2:] == (1, 2, 3)).all() and (l[-2:, -2:] == 255).all()  # padded beyond the image


def test_base_size_scales_relative_to_the_working_size():
    """With base_size the random scale applies to the image at that longest side: a large photo and a small
    one of the same scene give objects of the same size (the annotator resizes both to its working size)."""
    cfg = augment.AugmentConfig(1.0, 1.0, flip_prob=0.0, base_size=100)
    for w, h in ((400, 300), (80, 60)):
        rgb = np.zeros((h, w, 3), np.uint8)
        labels = np.zeros((h, w), np.uint8)
        labels[h // 4: h // 2, w // 4: w // 2] = 1
        pos = np.array([[w // 3, h // 3]])
        r, l, p, _ = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 128,
                                              np.random.default_rng(0), cfg, (0, 0, 0))
        assert r.shape == (128, 128, 3)
        assert abs(int((l == 1).sum()) - 25 * 19) <= 25  # the object at the scale of the image at 100 x 75
        assert ((l != 255).sum(axis=1) > 0).sum() == 75  # the whole 100 x 75 image, the rest padding
    with pytest.raises(ValueError, match="base size"):
        augment.AugmentConfig(base_size=4)


def test_errors_and_skips(devkit_copy, pairs, tmp_path):
    with pytest.raises(DatasetError, match="needs pre-generated pairs"):
        make_dataset(devkit_copy, "train", "pairs", SPEC)
    with pytest.raises(DatasetError, match="unknown dataset mode"):
        make_dataset(devkit_copy, "train", "nope", SPEC, pairs)
    with pytest.raises(DatasetError, match="no image of split 'val'"):
        make_dataset(devkit_copy, "val", "pairs", SPEC, pairs)
    dk = VOCDevkit(devkit_copy)
    victim = pairs.image_ids[0]
    dk.object_path(victim).write_bytes(b"\x89PNG broken")
    for mode in ("pairs", "random"):
        ds = make_dataset(devkit_copy, "train", mode, SPEC, pairs, crop_size=CROP)
        assert ds.skipped == 1 and victim in ds.skipped_reasons[0]
        assert victim not in {it.image_id for it in ds.items}
        assert ds[0]["input"].shape == (5, CROP, CROP)
    # A corrupt JPEG noticed only when decoding: the item falls through to the next sample.
    ds = make_dataset(devkit_copy, "train", "image", SPEC, pairs, crop_size=CROP)
    dk.image_path(ds.items[0].image_id).write_bytes(b"\xff\xd8 broken jpeg")
    assert ds[0]["input"].shape == (5, CROP, CROP)
    path = tmp_path / "p.npz"
    pairs.save(path)
    assert len(make_dataset(devkit_copy, "train", "pairs", SPEC, path, crop_size=CROP)) > 0
