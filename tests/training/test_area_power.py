"""`ifcn train --area-power P`: objects of a source drawn with probability ~ area^-P (training.object_dataset)."""
from __future__ import annotations

import numpy as np
import pytest

from models.errors import DatasetError, IFCNError
from models.regions import DEFAULT_NET_SIZE
from models.spec import ModelSpec
from tests.training.test_layouts import BACKBONE, square, write_folder
from training.layouts import ObjectFolder
from training.object_dataset import ObjectClickDataset
from training.train_config import TrainConfig
from training.train_data import make_datasets

SMALL, LARGE = 20, 40  # square sides on the 64-px test images (400 px: the smallest usable)


def _folder(tmp_path, n_small: int = 6, n_large: int = 6) -> ObjectFolder:
    masks = {f"s{i}": {0: square(4 + i, 4 + i, SMALL)} for i in range(n_small)}
    masks.update({f"l{i}": {0: square(2 + i, 2 + i, LARGE)} for i in range(n_large)})
    return ObjectFolder(write_folder(tmp_path / "f", masks) / "images")


def _small_share(ds: ObjectClickDataset) -> float:
    names = [ds.items[int(i)].image_id for i in ds._map]
    return sum(n.startswith("s") for n in names) / len(names)


def test_areas_are_measured_at_the_networks_scale(tmp_path):
    ds = ObjectClickDataset([(_folder(tmp_path), 1.0)], "all", ModelSpec(backbone=BACKBONE), crop_size=64)
    areas = {it.image_id: it.area for it in ds.items}
    scale = (DEFAULT_NET_SIZE / 64) ** 2
    assert areas["s0"] == pytest.approx(SMALL * SMALL * scale)
    assert areas["l0"] == pytest.approx(LARGE * LARGE * scale)


def test_a_positive_power_draws_small_objects_more_often(tmp_path):
    folder, spec = _folder(tmp_path), ModelSpec(backbone=BACKBONE)
    uniform = ObjectClickDataset([(folder, 1.0)], "all", spec, crop_size=64, epoch_size=2400, seed=3)
    favoured = ObjectClickDataset([(folder, 1.0)], "all", spec, crop_size=64, epoch_size=2400, seed=3,
                                  area_power=0.5)
    assert _small_share(uniform) == pytest.approx(0.5)  # without repetition: each object equally often
    # area ratio (40/20)^2 = 4, so at P = 0.5 a small object is twice as likely as a large one: 2/3
    expected = (LARGE / SMALL) / (LARGE / SMALL + 1)
    assert _small_share(favoured) == pytest.approx(expected, abs=0.04)
    assert favoured.describe()["area_power"] == 0.5
    first = favoured._map.copy()
    favoured.set_epoch(1)
    favoured.set_epoch(0)
    np.testing.assert_array_equal(favoured._map, first)  # still a function of (seed, epoch)


def test_the_power_keeps_the_sources_shares(tmp_path):
    spec = ModelSpec(backbone=BACKBONE)
    a = _folder(tmp_path / "a")
    b = ObjectFolder(write_folder(tmp_path / "b", {f"x{i}": {0: square(10, 10, 30)} for i in range(3)}) / "images")
    ds = ObjectClickDataset([(a, 1.0), (b, 1.0)], "all", spec, crop_size=64, epoch_size=1000, area_power=1.0)
    counts = ds.source_counts()
    assert abs(counts["f"] - counts["b"]) < 100, counts  # `b`'s large objects keep their source's half


def test_bad_powers_and_devkits_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="area power"):
        ObjectClickDataset([(_folder(tmp_path), 1.0)], "all", ModelSpec(backbone=BACKBONE), area_power=-1)
    with pytest.raises(IFCNError, match="--area-power needs object folders"):
        make_datasets(TrainConfig(voc_root=str(tmp_path), out=str(tmp_path / "run"), area_power=0.5),
                      ModelSpec(backbone=BACKBONE), main=True)
