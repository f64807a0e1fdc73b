"""`--zoom-prob`: training items seen as the predictor's zoom-in shows an object (training.augment)."""
import numpy as np
import pytest

from training import augment
import argparse

from training.train import add_arguments, config_from_args


def _scene(w: int = 400, h: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    labels = np.zeros((h, w), np.uint8)
    labels[200:220, 300:316] = 1  # a 16 x 20 px object
    labels[20:120, 20:120] = 2  # another object
    return rgb, labels, np.array([[308, 210]])


def test_a_zoomed_item_fills_the_crop_with_its_object_and_keeps_its_click():
    rgb, labels, pos = _scene()
    cfg = augment.AugmentConfig(1.0, 1.0, zoom_prob=1.0, base_size=400)
    size = 128
    for seed in range(20):
        r, l, p, _ = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), size,
                                              np.random.default_rng(seed), cfg, (0, 0, 0), object_id=1)
        assert r.shape == (size, size, 3) and l.shape == (size, size)
        ys, xs = np.nonzero(l == 1)
        longer = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        # the box grown 1.2-1.8x fills 60-100 % of the crop: the object's longer side is 33-83 % of it
        assert 0.3 * size <= longer <= 0.86 * size
        assert len(p) == 1 and l[p[0, 1], p[0, 0]] == 1  # the positive click moved with its pixel
        assert xs.min() > 0 and ys.min() > 0 and xs.max() < size - 1 and ys.max() < size - 1  # whole object


def test_without_zoom_the_object_stays_at_its_scale_and_draws_are_unchanged():
    rgb, labels, pos = _scene()
    plain = augment.AugmentConfig(1.0, 1.0, base_size=400)
    off = augment.AugmentConfig(1.0, 1.0, base_size=400, zoom_prob=0.0)
    a = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 128, np.random.default_rng(3), plain,
                                 (0, 0, 0))
    b = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 128, np.random.default_rng(3), off,
                                 (0, 0, 0), object_id=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # same random draws as before the option
    assert int((b[1] == 1).sum()) == 16 * 20


def test_a_big_object_is_not_shrunk_and_a_share_of_items_is_zoomed():
    rgb, labels, pos = _scene()
    pos_big = np.array([[70, 70]])
    cfg = augment.AugmentConfig(1.0, 1.0, base_size=400, zoom_prob=1.0)
    _, l, p, _ = augment.random_transform(rgb, labels, pos_big, np.zeros((0, 2)), 64, np.random.default_rng(0),
                                          cfg, (0, 0, 0), object_id=2)
    assert len(p) == 1 and (l == 2).sum() >= 0.9 * 64 * 64  # 100 px object, 64 px crop: not scaled down
    half = augment.AugmentConfig(1.0, 1.0, base_size=400, zoom_prob=0.5)
    sizes = [int((augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 128, np.random.default_rng(s),
                                           half, (0, 0, 0), object_id=1)[1] == 1).sum()) for s in range(40)]
    zoomed = sum(n > 2 * 16 * 20 for n in sizes)
    assert 10 <= zoomed <= 30


def test_the_option_reaches_the_training_config_and_is_checked():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "x", "--out", "y", "--zoom-prob", "0.4"])
    assert config_from_args(args).zoom_prob == 0.4
    with pytest.raises(ValueError, match="zoom probability"):
        augment.AugmentConfig(zoom_prob=1.5)
