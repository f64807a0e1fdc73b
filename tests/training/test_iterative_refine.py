"""`--iterative-refine`: training's corrective clicks placed on what the annotator shows (edge snapping and colour
refinement of the network's probability) instead of on the network's own mask."""
from __future__ import annotations

import numpy as np
import torch

from models.clicks import Click
from models.inputs import make_input
from models.metrics import iou, next_click
from models.spec import ModelSpec
from training.iterative import IterativeConfig, clicks_in_input, photo_of_input, pipeline_mask, simulate
from training.train import TrainConfig, train

SPEC = ModelSpec(backbone="efficientnet_lite0")


def _scene(h: int = 64, w: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red square on a blue ground (photo, object), and a network mask that also takes an 8-px band of the
    ground to the square's right."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:] = (30, 60, 200)
    gt = np.zeros((h, w), bool)
    gt[16:48, 20:52] = True
    rgb[gt] = (210, 40, 30)
    pred = gt.copy()
    pred[16:48, 52:60] = True
    return rgb, gt, pred


class _Unsure(torch.nn.Module):
    """A 'network' that predicts a fixed mask with logit +2 inside and -2 outside (probabilities 0.88 / 0.12)."""

    def __init__(self, mask: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("logits", torch.from_numpy(np.where(mask, 2.0, -2.0).astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], 1, *self.logits.shape)


def test_the_photo_is_read_back_from_the_input():
    rgb = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    back = photo_of_input(make_input(rgb, [Click(5, 5, True)], SPEC), SPEC)
    assert back.dtype == np.uint8 and back.shape == rgb.shape
    assert int(np.abs(back.astype(int) - rgb).max()) <= 1


def test_the_refined_mask_drops_a_band_of_the_grounds_colour():
    rgb, gt, pred = _scene()
    x = make_input(rgb, [Click(30, 30, True)], SPEC)
    prob = (1.0 / (1.0 + np.exp(-np.where(pred, 2.0, -2.0)))).astype(np.float32)
    assert iou(pred, gt) < 0.85
    assert iou(pipeline_mask(x, prob, SPEC), gt) > 0.95


def test_simulate_clicks_on_the_refined_mask_with_refine():
    rgb, gt, pred = _scene()
    first = [Click(30, 30, True)]

    def run(refine: bool) -> list[Click]:
        batch = {"input": torch.from_numpy(make_input(rgb, first, SPEC)[None].copy()),
                 "target": torch.from_numpy(gt[None, None].astype(np.float32)),
                 "ignore": torch.zeros(1, 1, *gt.shape)}
        cfg = IterativeConfig(max_clicks=1, prob=1.0, single_first_prob=0.0, refine=refine)
        assert simulate(_Unsure(pred), batch, SPEC, cfg, np.random.default_rng(0), torch.device("cpu")) == 1
        return [c for c in clicks_in_input(batch["input"].numpy()[0]) if c not in first]

    plain = run(False)
    # the network's own mask: a negative click in the band it wrongly took
    assert len(plain) == 1 and not plain[0].positive and 52 <= plain[0].x < 60
    refined = run(True)
    x = make_input(rgb, first, SPEC)
    prob = (1.0 / (1.0 + np.exp(-np.where(pred, 2.0, -2.0)))).astype(np.float32)
    expected = next_click(pipeline_mask(x, prob, SPEC), gt, None, first)
    assert refined == ([] if expected is None else [expected])
    assert all(not (52 <= c.x < 60 and 16 <= c.y < 48) for c in refined)  # the band is not clicked again


def test_train_with_iterative_refine_records_it(synthetic_devkit, tmp_path):
    from models.checkpoint import load_checkpoint

    cfg = TrainConfig(voc_root=str(synthetic_devkit), out=str(tmp_path / "run"), backbone="efficientnet_lite0",
                      weights=None, mode="random", batch_size=2, crop_size=64, workers=0, device="cpu",
                      max_steps=2, epochs=1000, val_limit=2, seed=3, show_bar=False, iterative=2,
                      iterative_prob=1.0, iterative_refine=True)
    res = train(cfg)
    assert res.status == "completed" and res.steps == 2 and all(np.isfinite(res.losses))
    assert load_checkpoint(res.last_path).meta["training"]["iterative_refine"] is True
