"""`ifcn train --click-weight W --click-radius R`: the BCE of the pixels near each click weighs W times as much."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.clicks import Click
from models.errors import IFCNError
from models.fcn import build_ifcn
from models.inputs import make_input
from models.spec import ModelSpec
from tests.training.test_train import BACKBONE, _tiny_batch
from training.step import click_weights, masked_bce
from training.train import TrainConfig, add_arguments, config_from_args, train, train_step


def _input(clicks: list[Click], size: int = 48) -> torch.Tensor:
    spec = ModelSpec(backbone=BACKBONE)
    rgb = np.zeros((size, size, 3), np.uint8)
    return torch.from_numpy(make_input(rgb, clicks, spec))[None]


def test_the_weight_covers_a_disc_around_each_click_of_either_sign():
    x = _input([Click(10, 12, True), Click(35, 30, False)])
    w = click_weights(x, 4.0, 5.0, 255.0)[0, 0].numpy()
    yy, xx = np.mgrid[:48, :48]
    near = ((xx - 10) ** 2 + (yy - 12) ** 2 <= 25) | ((xx - 35) ** 2 + (yy - 30) ** 2 <= 25)
    assert w.shape == (48, 48)
    assert np.all(w[near] == 4.0) and np.all(w[~near] == 1.0)


def test_no_click_no_weight_and_weight_one_is_plain_bce():
    x = _input([])
    assert torch.equal(click_weights(x, 9.0, 10.0, 255.0), torch.ones(1, 1, 48, 48))
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(2, 1, 8, 8, generator=g), (torch.rand(2, 1, 8, 8, generator=g) > 0.5).float()
    ignore = torch.zeros_like(target)
    ignore[:, :, :2] = 1
    assert torch.allclose(masked_bce(logits, target, ignore, torch.ones_like(target)), masked_bce(logits, target, ignore))


def test_weighted_bce_matches_its_definition_and_skips_void():
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(1, 1, 6, 6, generator=g) * 2, (torch.rand(1, 1, 6, 6, generator=g) > 0.5).float()
    ignore = torch.zeros_like(target)
    ignore[..., 0, :] = 1
    weight = torch.ones_like(target)
    weight[..., :3, :3] = 5.0  # the void row inside the weighted corner must stay out
    per = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    valid = 1 - ignore
    expected = (per * valid * weight).sum() / valid.sum()
    assert torch.allclose(masked_bce(logits, target, ignore, weight), expected)


class _Fixed(torch.nn.Module):
    """A 'network' whose logits are fixed: +8 on a square, -8 elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.b = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.full((x.shape[0], 1, *x.shape[2:]), -8.0)
        out[..., 16:48, 12:40] = 8.0
        return out + self.b


def test_the_step_weighs_the_error_at_a_click():
    """Two targets with the same error (a 3x3 patch the 'network' gets wrong): with the focus on, the one at the
    click costs about W times as much (the rest of the loss is not weighted); without it, the same as the other."""
    net, batch = _Fixed(), _tiny_batch(n=1)  # its positive click is at (28, 32), its negative at (4, 4)
    values = {}
    for where, (y, x) in (("at the click", (32, 28)), ("far away", (58, 58))):
        target = (net(batch["input"]) > 0).float().detach()
        target[..., y - 1:y + 2, x - 1:x + 2] = 1 - target[..., y - 1:y + 2, x - 1:x + 2]
        for focus in (None, (5.0, 4.0, 255.0)):
            opt = torch.optim.SGD(net.parameters(), lr=0.0)
            values[where, focus is not None] = train_step(net, opt, dict(batch, target=target), torch.device("cpu"),
                                                          click_focus=focus)
    assert values["at the click", False] == pytest.approx(values["far away", False], rel=1e-4)
    assert values["far away", True] == pytest.approx(values["far away", False], rel=1e-2)
    assert 4.5 * values["at the click", False] < values["at the click", True] < 5.0 * values["at the click", False]


def test_training_steps_with_the_focus_lower_the_loss():
    torch.manual_seed(0)
    model = build_ifcn(ModelSpec(backbone=BACKBONE), weights=None).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    batch = _tiny_batch()
    focus = (5.0, 10.0, 255.0)
    before = train_step(model, opt, batch, torch.device("cpu"), click_focus=focus)
    train_step(model, opt, batch, torch.device("cpu"), click_focus=focus)
    after = train_step(model, opt, batch, torch.device("cpu"), click_focus=focus)
    assert after < before


def test_the_options_reach_the_config_and_are_checked(tmp_path):
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--data", "x", "--out", "y", "--click-weight", "5", "--click-radius", "12"]))
    assert (cfg.click_weight, cfg.click_radius) == (5.0, 12.0)
    plain = config_from_args(p.parse_args(["--data", "x", "--out", "y"]))
    assert (plain.click_weight, plain.click_radius) == (1.0, 10.0)
    for bad, match in (({"click_weight": 0.5}, "--click-weight must lie"), ({"click_radius": -1.0}, "--click-radius"),
                       ({"click_weight": 3.0, "loss": "nfl"}, "does not combine with --loss nfl")):
        with pytest.raises(IFCNError, match=match):
            train(TrainConfig(voc_root=None, out=str(tmp_path / "bad"), data=(str(tmp_path),), show_bar=False,
                              **bad))
