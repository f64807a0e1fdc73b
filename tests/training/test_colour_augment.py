"""`--colour-prob`: RITM's photometric augmentation of training items (training.augment.photometric)."""
import argparse

import numpy as np
import pytest

from training import augment
from training.train import add_arguments, config_from_args


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    rgb = rng.integers(40, 216, (120, 160, 3), dtype=np.uint8)
    labels = np.zeros((120, 160), np.uint8)
    labels[40:80, 60:100] = 1
    return rgb, labels, np.array([[80, 60]])


def test_changes_stay_within_ritms_limits_and_vary_per_item():
    rgb = np.full((8, 8, 3), (100, 150, 200), np.uint8)
    seen = set()
    for seed in range(200):
        out = augment.photometric(rgb, np.random.default_rng(seed), 1.0).astype(int)
        # x * (1 +- 0.15) +- 0.25 * 255 +- 10, per channel; one gain and one brightness for the whole image
        for c, v in enumerate((100, 150, 200)):
            lo = v * (1 - augment.CONTRAST) - augment.BRIGHTNESS * 255 - augment.CHANNEL_SHIFT
            hi = v * (1 + augment.CONTRAST) + augment.BRIGHTNESS * 255 + augment.CHANNEL_SHIFT
            assert lo - 1 <= out[0, 0, c] <= hi + 1
        assert (out == out[0, 0]).all(), "the same change for every pixel of the item"
        seen.add(tuple(out[0, 0]))
    assert len(seen) > 150


def test_saturates_instead_of_wrapping_around():
    white = np.full((4, 4, 3), 250, np.uint8)
    black = np.full((4, 4, 3), 5, np.uint8)
    for seed in range(50):
        rng = np.random.default_rng(seed)
        w, b = augment.photometric(white, rng, 1.0), augment.photometric(black, rng, 1.0)
        assert w.dtype == np.uint8 and b.dtype == np.uint8
        assert w.min() >= 135 and b.max() <= 82  # the limits; a uint8 wrap-around would give ~58 and ~187


def test_only_the_image_changes_and_off_keeps_the_old_random_draws():
    rgb, labels, pos = _scene()
    on = augment.AugmentConfig(0.9, 1.1, colour_prob=1.0)
    off = augment.AugmentConfig(0.9, 1.1)
    a = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 96, np.random.default_rng(5), on, (0, 0, 0))
    b = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 96, np.random.default_rng(5), off, (0, 0, 0))
    assert not np.array_equal(a[0], b[0])
    for x, y in zip(a[1:], b[1:]):  # labels and clicks: the same geometry
        assert np.array_equal(x, y)
    # with probability 0 nothing is drawn: the geometry's random stream is what it was before the option
    c = augment.random_transform(rgb, labels, pos, np.zeros((0, 2)), 96, np.random.default_rng(5),
                                 augment.AugmentConfig(0.9, 1.1, colour_prob=0.0), (0, 0, 0))
    assert all(np.array_equal(x, y) for x, y in zip(b, c))


def test_a_share_of_items_is_left_as_it_is():
    rgb, _, _ = _scene()
    same = sum(np.array_equal(augment.photometric(rgb, np.random.default_rng(s), 0.5), rgb) for s in range(400))
    assert 60 <= same <= 140  # neither change drawn: (1 - 0.5) ** 2 = 25 % of the items


def test_the_option_reaches_the_training_config_and_is_checked():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "x", "--out", "y", "--colour-prob", "0.75"])
    assert config_from_args(args).colour_prob == 0.75
    with pytest.raises(ValueError, match="colour augmentation probability"):
        augment.AugmentConfig(colour_prob=-0.1)
