"""The annotator's void brush (VOC 255) as training, the NoC benchmark and the COCO export see it: left out of
the loss and of click sampling, of the IoU and the oracle's clicks, and exported as a COCO crowd region."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject, ClassTable, Stroke
from models.fileio import read_index_png
from models.metrics import next_click
from models.spec import ModelSpec
from training.annotations import build_devkit
from training.datasets import make_dataset
from training.noc import evaluate
from training.train import masked_bce
from training.voc import VOCDevkit

H, W = 64, 64
yy, xx = np.mgrid[:H, :W]


def _annotate(folder: Path, n: int = 4) -> dict[str, np.ndarray]:
    """`n` images, each with two objects and a void stripe painted with the void brush over both of them and
    the background; the void mask of each image by stem."""
    folder.mkdir(parents=True)
    voids = {}
    for i in range(n):
        rgb = np.stack([xx * 3, yy * 3, np.full_like(xx, 40 * i)], -1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"im{i}.png")
        st = AnnotationState((H, W), ClassTable())
        a = (xx >= 6) & (xx < 30) & (yy >= 8) & (yy < 40)
        b = (xx >= 36) & (xx < 60) & (yy >= 20) & (yy < 56)
        st.load_objects([AnnotObject(uid=0, class_index=15, mask=a), AnnotObject(uid=0, class_index=12, mask=b)])
        assert st.add_void_stroke(Stroke(((2.0, 30.0 + i), (62.0, 30.0 + i)), 3.0))
        label_file.save(folder, folder / f"im{i}.png", st)
        voids[f"im{i}"] = st.void.mask((H, W)).copy()
    return voids


@pytest.fixture(scope="module")
def devkit(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("void")
    voids = _annotate(root / "images")
    build_devkit(root / "images", root / "devkit", holdout=0.5, min_objects=1, link=False)
    return root / "devkit", voids


def test_devkit_keeps_the_void(devkit):
    root, voids = devkit
    for stem, void in voids.items():
        inst = read_index_png(root / "SegmentationObject" / f"{stem}.png")
        assert np.array_equal(inst == 255, void) and void.any()


def test_training_items_ignore_void_and_never_click_on_it(devkit):
    root, voids = devkit
    ds = make_dataset(VOCDevkit(root), "train", "random", ModelSpec(), crop_size=H, augment=False, seed=3)
    assert len(ds) == 4  # two images, two objects each
    seen = 0
    for epoch in range(5):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            a = ds.arrays(i)
            void = a["labels"] == 255
            item = ds[i]
            assert np.array_equal(item["ignore"][0].numpy() > 0.5, void) and void.any()
            assert not (item["target"][0].numpy() > 0.5)[void].any()
            for xy in (a["pos_xy"], a["neg_xy"]):
                assert not void[xy[:, 1], xy[:, 0]].any(), "a click on void"
                seen += len(xy)
    assert seen > 20


def test_loss_does_not_see_void_pixels():
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:5, 2:5] = 1
    ignore = torch.zeros(1, 1, 8, 8)
    ignore[..., 6:, :] = 1
    logits = torch.randn(1, 1, 8, 8)
    wild = logits.clone()
    wild[..., 6:, :] = 50.0  # confidently wrong, but only on void
    assert torch.allclose(masked_bce(logits, target, ignore), masked_bce(wild, target, ignore))


class LeakyOracle:
    """Returns the clicked object plus every void pixel: perfect once void is ignored."""

    name = "leaky"

    def __init__(self, data: VOCDevkit, split: str) -> None:
        self.samples = [data.load(i) for i in data.image_ids(split)]

    def set_image(self, rgb):
        self.objects = next(s.objects for s in self.samples if np.array_equal(s.rgb, rgb))

    def predict(self, clicks, refine=False):
        c = clicks[0]
        return ((self.objects == self.objects[int(c.y), int(c.x)]) | (self.objects == 255)).astype(np.float32)


def test_noc_ignores_void_in_iou_and_clicks(devkit):
    root, voids = devkit
    data = VOCDevkit(root)
    res = evaluate(LeakyOracle(data, "val"), data, split="val", max_clicks=3)
    assert len(res.objects) == 4 and all(o.ious[0] == 1.0 for o in res.objects)
    # the oracle never asks for a click on void, even where the prediction is wrong there
    stem = data.image_ids("val")[0]
    objects = data.load(stem).objects
    void = objects == 255
    gt = objects == 1
    pred = np.zeros_like(gt) | void  # everything wrong on void, the object missed
    c = next_click(pred, gt, void)
    assert c is not None and c.positive and not void[int(c.y), int(c.x)]
    assert next_click(gt | void, gt, void) is None


def test_coco_export_has_the_void_as_a_crowd_region(devkit, tmp_path):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    from models.cli import main as cli_main

    images = devkit[0].parent / "images"
    voids = devkit[1]
    out = tmp_path / "coco"
    assert cli_main(["convert", "--to", "coco", "--annotations", str(images), "--out", str(out)]) == 0
    api = COCO(str(out / "annotations" / "instances_default.json"))
    for img in api.loadImgs(api.getImgIds()):
        anns = api.loadAnns(api.getAnnIds(imgIds=[img["id"]]))
        (crowd,) = [a for a in anns if a["iscrowd"]]
        assert np.array_equal(api.annToMask(crowd).astype(bool), voids[Path(img["file_name"]).stem])
        things = [a for a in anns if not a["iscrowd"]]
        void = voids[Path(img["file_name"]).stem]
        assert len(things) == 2 and not any((api.annToMask(a).astype(bool) & void).any() for a in things)
