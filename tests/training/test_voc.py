"""Reading VOC devkits and image/mask folders: layouts accepted, errors that name the file."""
import shutil

import numpy as np
import pytest

from models.errors import DatasetError, ImageReadError
from models.fileio import write_index_png
from training.voc import FolderDataset, VOCDevkit, instances


def test_accepts_three_layouts(synthetic_devkit):
    base = synthetic_devkit / "VOC2012"
    for root in (synthetic_devkit, base, synthetic_devkit.parent):
        dk = VOCDevkit(root)
        assert dk.root == base
        assert dk.image_ids("train") == [f"synth_{i:05d}" for i in range(4)]


def test_load_sample(synthetic_devkit):
    dk = VOCDevkit(synthetic_devkit)
    s = dk.load("synth_00000")
    assert s.rgb.shape == (96, 128, 3) and s.rgb.dtype == np.uint8
    assert s.objects.shape == (96, 128) and s.classes.shape == (96, 128)
    assert s.void.any()
    # Instances are the non-background, non-void ids; classes agree with the instance layout.
    objs = instances(s.objects)
    assert [i for i, _ in objs] == sorted(set(np.unique(s.objects)) - {0, 255})
    for _, m in objs:
        assert m.dtype == bool and m.any()
        assert len(np.unique(s.classes[m])) == 1 and 1 <= s.classes[m][0] <= 20
    np.testing.assert_array_equal(s.objects == 255, s.classes == 255)


def test_missing_and_partial_devkit(tmp_path, devkit_copy):
    with pytest.raises(DatasetError, match="no such folder"):
        VOCDevkit(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a VOC devkit"):
        VOCDevkit(tmp_path / "empty")
    shutil.rmtree(devkit_copy / "VOC2012" / "SegmentationObject")
    with pytest.raises(DatasetError, match="SegmentationObject"):
        VOCDevkit(devkit_copy)


def test_missing_split_names_file(synthetic_devkit):
    with pytest.raises(DatasetError, match=r"test\.txt.*available splits: train, trainval, val"):
        VOCDevkit(synthetic_devkit).image_ids("test")


def test_missing_mask_and_unreadable_png_name_the_file(devkit_copy):
    dk = VOCDevkit(devkit_copy)
    mask = dk.object_path("synth_00001")
    mask.unlink()
    with pytest.raises(DatasetError, match="synth_00001.png"):
        dk.load("synth_00001")
    with pytest.raises(DatasetError, match="synth_00001.png"):
        dk.check("synth_00001")
    bad = dk.object_path("synth_00002")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match="synth_00002.png"):
        dk.load("synth_00002")
    dk.image_path("synth_00003").unlink()
    with pytest.raises(DatasetError, match="synth_00003.jpg"):
        dk.load("synth_00003")


def test_mask_size_mismatch(devkit_copy):
    dk = VOCDevkit(devkit_copy)
    write_index_png(dk.object_path("synth_00000"), np.zeros((10, 10), np.uint8))
    with pytest.raises(DatasetError, match="image's size"):
        dk.load("synth_00000")


def test_folder_dataset(synthetic_devkit, tmp_path):
    base = synthetic_devkit / "VOC2012"
    images, masks = tmp_path / "img", tmp_path / "msk"
    shutil.copytree(base / "JPEGImages", images)
    shutil.copytree(base / "SegmentationObject", masks)
    (masks / "synth_00004.png").unlink()
    fd = FolderDataset(images, masks)
    assert len(fd.image_ids()) == 8
    s = fd.load("synth_00000")
    np.testing.assert_array_equal(s.objects, VOCDevkit(synthetic_devkit).load_objects("synth_00000"))
    assert s.classes is None
    with pytest.raises(DatasetError, match="no mask for this image.*synth_00004.png"):
        fd.load("synth_00004")
    with pytest.raises(DatasetError, match="no such masks folder"):
        FolderDataset(images, tmp_path / "missing")
