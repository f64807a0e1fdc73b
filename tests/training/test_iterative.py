"""Iterative (RITM-style) click simulation: clicks read back from the input, oracle clicks added with
the core encoding, single-first-click reduction, and `ifcn train --iterative` end to end."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.clicks import Click
from models.inputs import make_input
from models.metrics import next_click
from models.spec import ModelSpec
from training.iterative import IterativeConfig, add_click, clicks_in_input, keep_one_positive, simulate
from training.train import TrainConfig, train

SPEC = ModelSpec(backbone="efficientnet_lite0")


def _rgb(h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_clicks_read_back_from_the_input():
    clicks = [Click(3, 4, True), Click(40, 20, True), Click(10, 30, False)]
    x = make_input(_rgb(), clicks, SPEC)
    assert sorted(clicks_in_input(x), key=lambda c: (c.positive, c.x)) == \
        sorted(clicks, key=lambda c: (c.positive, c.x))


def test_add_click_equals_encoding_all_clicks_at_once():
    rgb = _rgb()
    first = [Click(3, 4, True), Click(10, 30, False)]
    x = make_input(rgb, first, SPEC)
    add_click(x, Click(50, 40, False), SPEC)
    add_click(x, Click(20, 10, True), SPEC)
    ref = make_input(rgb, first + [Click(50, 40, False), Click(20, 10, True)], SPEC)
    np.testing.assert_allclose(x, ref, atol=1e-6)


def test_keep_one_positive_leaves_one_of_the_positives_and_no_negative():
    rgb = _rgb()
    pos = [Click(3, 4, True), Click(40, 20, True)]
    x = make_input(rgb, pos + [Click(10, 30, False)], SPEC)
    keep_one_positive(x, SPEC, np.random.default_rng(1))
    left = clicks_in_input(x)
    assert len(left) == 1 and left[0].positive and left[0] in pos
    np.testing.assert_allclose(x, make_input(rgb, left, SPEC), atol=1e-6)


class _Constant(torch.nn.Module):
    """A 'network' that predicts a fixed mask (logit +5 inside, -5 outside) whatever the input."""

    def __init__(self, mask: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("logits", torch.from_numpy(np.where(mask, 5.0, -5.0).astype(np.float32)))
        self.seen_training: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_training.append(self.training)
        return self.logits.expand(x.shape[0], 1, *self.logits.shape)


def test_simulate_adds_the_oracle_click_for_the_models_error():
    h, w = 48, 64
    gt = np.zeros((h, w), bool)
    gt[10:40, 10:50] = True
    pred = gt.copy()
    pred[10:40, 30:50] = False  # the model misses the right half: a positive correction is due
    rgb = _rgb(h, w)
    first = [Click(20, 25, True)]
    batch = {"input": torch.from_numpy(make_input(rgb, first, SPEC)[None].copy()),
             "target": torch.from_numpy(gt[None, None].astype(np.float32)),
             "ignore": torch.zeros(1, 1, h, w)}
    model = _Constant(pred).train()
    cfg = IterativeConfig(max_clicks=1, prob=1.0, single_first_prob=0.0)
    rounds = simulate(model, batch, SPEC, cfg, np.random.default_rng(0), torch.device("cpu"))
    assert rounds == 1
    assert model.seen_training == [False] and model.training  # eval for the prediction, then back
    expected = next_click(pred, gt, None, first)
    assert expected is not None and expected.positive
    np.testing.assert_allclose(batch["input"].numpy()[0], make_input(rgb, first + [expected], SPEC),
                               atol=1e-6)


def test_simulate_is_off_when_disabled_or_not_drawn():
    batch = {"input": torch.zeros(1, 5, 8, 8), "target": torch.zeros(1, 1, 8, 8),
             "ignore": torch.zeros(1, 1, 8, 8)}
    model = _Constant(np.zeros((8, 8), bool))
    assert simulate(model, batch, SPEC, IterativeConfig(max_clicks=0), np.random.default_rng(0),
                    torch.device("cpu")) == 0
    assert simulate(model, batch, SPEC, IterativeConfig(max_clicks=3, prob=0.0), np.random.default_rng(0),
                    torch.device("cpu")) == 0
    assert model.seen_training == []


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        IterativeConfig(max_clicks=-1)
    with pytest.raises(ValueError):
        IterativeConfig(max_clicks=2, prob=1.5)


def test_train_with_iterative_clicks_runs_and_records_it(synthetic_devkit, tmp_path):
    from models.checkpoint import load_checkpoint

    cfg = TrainConfig(voc_root=str(synthetic_devkit), out=str(tmp_path / "run"), backbone="efficientnet_lite0",
                      weights=None, mode="random", batch_size=2, crop_size=64, workers=0, device="cpu",
                      max_steps=3, epochs=1000, val_limit=2, seed=3, show_bar=False, iterative=2,
                      iterative_prob=1.0)
    res = train(cfg)
    assert res.status == "completed" and res.steps == 3
    assert all(np.isfinite(res.losses))
    meta = load_checkpoint(res.last_path).meta
    assert meta["training"]["iterative"] == 2


def test_train_refuses_bad_iterative_options(synthetic_devkit, tmp_path):
    from models.errors import IFCNError

    cfg = TrainConfig(voc_root=str(synthetic_devkit), out=str(tmp_path / "bad"), weights=None,
                      device="cpu", workers=0, iterative=2, iterative_prob=2.0, show_bar=False)
    with pytest.raises(IFCNError, match="iterative"):
        train(cfg)
