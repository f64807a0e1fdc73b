"""End to end: retraining on annotations of one kind of image lowers NoC on held-out images of that kind."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject
from models.backbones import BACKBONES, spec_for
from models.checkpoint import save_checkpoint
from models.fcn import build_ifcn
from models.predictor import Predictor
from training.annotations import baseline_val_iou, build_devkit
from training.noc import evaluate
from training.train import TrainConfig, train
from training.voc import VOCDevkit

H, W = 80, 96
BACKBONE = "efficientnet_lite0"


def red_blob_scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The 'kind': one reddish ellipse on a noisy grey background."""
    img = rng.normal(120, 25, (H, W, 3)) + rng.uniform(-30, 30, 3)
    m = np.zeros((H, W), np.uint8)
    centre = (int(rng.integers(W // 3, 2 * W // 3)), int(rng.integers(H // 3, 2 * H // 3)))
    axes = (int(rng.integers(H // 5, H // 3)), int(rng.integers(H // 5, H // 3)))
    cv2.ellipse(m, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    mask = m.astype(bool)
    img[mask] = np.array([200, 60, 50]) + rng.normal(0, 15, (int(mask.sum()), 3))
    return img.clip(0, 255).astype(np.uint8), mask


@pytest.mark.slow
@pytest.mark.skipif(BACKBONE not in BACKBONES, reason="EfficientNet-Lite0 backbone not installed")
def test_retraining_on_annotations_lowers_noc(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster than 2 contended threads on a loaded 2-core machine
    try:
        folder = tmp_path / "photos"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(16):  # annotated as the annotator saves them
            rgb, mask = red_blob_scene(rng)
            Image.fromarray(rgb).save(folder / f"img{i:02d}.png")
            st = AnnotationState((H, W))
            st.load_objects([AnnotObject(uid=0, class_index=1, mask=mask)])
            label_file.save(folder, folder / f"img{i:02d}.png", st)
        summary = build_devkit(folder, tmp_path / "devkit", holdout=0.3, seed=0, min_objects=10)
        assert summary.val_images == 5 and summary.train_images == 11

        # a weak starting model: ImageNet trunk, untrained iFCN head (never saw this kind of image)
        torch.manual_seed(0)
        weak = tmp_path / "weak.pt"
        save_checkpoint(weak, build_ifcn(spec_for(BACKBONE), weights="imagenet"))

        def noc85(checkpoint) -> tuple[float, float]:
            res = evaluate(Predictor.load(str(checkpoint), device="cpu"), VOCDevkit(tmp_path / "devkit"),
                           split="val", max_clicks=8)
            assert len(res.objects) == 5
            return res.noc(0.85), res.miou_per_click()[0]

        before_noc, before_iou1 = noc85(weak)
        before_val, n_val = baseline_val_iou(tmp_path / "devkit", weak, crop_size=64, seed=0, device="cpu")
        result = train(TrainConfig(voc_root=str(tmp_path / "devkit"), out=str(tmp_path / "run"),
                                   init_checkpoint=str(weak), epochs=0, max_steps=40, batch_size=4,
                                   crop_size=64, workers=0, device="cpu", show_bar=False, val_every=20, lr=2e-3))
        after_noc, after_iou1 = noc85(result.last_path)  # best.pt follows the 64 px crop IoU, not NoC
    finally:
        torch.set_num_threads(threads)
    assert result.status == "completed" and result.steps == 40
    assert n_val == 5 and result.best_val_iou > before_val + 0.2  # the "before -> after" the dialog shows
    assert after_iou1 > before_iou1 + 0.3
    assert after_noc < before_noc - 2, (before_noc, after_noc)
