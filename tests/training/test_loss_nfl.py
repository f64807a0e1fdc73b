"""RITM's normalized focal loss (`ifcn train --loss nfl`): void ignored, hard pixels weigh more, it trains."""
from __future__ import annotations

import argparse

import pytest
import torch
import torch.nn.functional as F

from models.errors import IFCNError
from training.step import LOSSES, masked_bce, masked_nfl
from models.fcn import build_ifcn
from models.spec import ModelSpec
from training.train import TrainConfig, add_arguments, config_from_args, train, train_step


def _case(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 1, 16, 16, generator=g) * 3
    target = (torch.rand(3, 1, 16, 16, generator=g) > 0.5).float()
    ignore = torch.zeros_like(target)
    ignore[:, :, :4] = 1
    return logits, target, ignore


def test_nfl_ignores_void_pixels():
    logits, target, ignore = _case()
    base = masked_nfl(logits, target, ignore)
    flipped = target.clone()
    flipped[:, :, :4] = 1 - flipped[:, :, :4]
    wild = logits.clone()
    wild[:, :, :4] = 1e4
    assert torch.equal(masked_nfl(logits, flipped, ignore), base)
    assert torch.allclose(masked_nfl(wild, target, ignore), base)
    flipped_valid = target.clone()
    flipped_valid[:, :, 8:] = 1 - flipped_valid[:, :, 8:]
    assert not torch.allclose(masked_nfl(logits, flipped_valid, ignore), base)


def test_nfl_matches_its_definition():
    """alpha_t * (1-p_t)^2 normalised to sum to the valid count, times BCE; per image, then the batch mean."""
    logits, target, ignore = _case(1)
    expected = []
    for i in range(logits.shape[0]):
        valid = ignore[i] == 0
        z, t = logits[i][valid], target[i][valid]
        p = torch.sigmoid(z)
        p_t = torch.where(t > 0.5, p, 1 - p)
        w = (1 - p_t) ** 2
        w = w * valid.sum() / w.sum()
        bce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        expected.append((0.5 * w * bce).sum() / valid.sum())
    assert torch.allclose(masked_nfl(logits, target, ignore), torch.stack(expected).mean(), rtol=1e-5)


def test_nfl_puts_the_gradient_on_hard_pixels():
    """An almost-right pixel gets a far smaller share of the gradient than under BCE."""
    target = torch.ones(1, 1, 1, 4)
    logits = torch.tensor([[[[4.0, 4.0, 4.0, -2.0]]]], requires_grad=True)  # three easy, one hard pixel
    ignore = torch.zeros_like(target)
    shares = {}
    for name, fn in (("bce", masked_bce), ("nfl", masked_nfl)):
        logits.grad = None
        fn(logits, target, ignore).backward()
        g = logits.grad.abs().flatten()
        shares[name] = float(g[0] / g[3])
    assert shares["nfl"] < 0.01 * shares["bce"]


def test_nfl_is_finite_when_every_pixel_is_right_or_void():
    target = torch.ones(2, 1, 8, 8)
    logits = torch.full_like(target, 60.0, requires_grad=True)
    ignore = torch.zeros_like(target)
    ignore[1] = 1  # the second image is all void
    loss = masked_nfl(logits, target, ignore)
    loss.backward()
    assert torch.isfinite(loss) and float(loss.detach()) < 1e-6
    assert torch.isfinite(logits.grad).all()


def test_loss_option_reaches_the_run_and_is_checked(tmp_path):
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--data", "x", "--out", str(tmp_path / "r"), "--loss", "nfl"])
    assert config_from_args(args).loss == "nfl"
    assert config_from_args(p.parse_args(["--data", "x", "--out", str(tmp_path / "r")])).loss == "bce"
    with pytest.raises(SystemExit):
        p.parse_args(["--data", "x", "--out", str(tmp_path / "r"), "--loss", "dice"])
    assert set(LOSSES) == {"bce", "nfl"}
    with pytest.raises(IFCNError, match="--loss"):
        train(TrainConfig(voc_root=None, out=str(tmp_path / "bad"), data=(str(tmp_path),), loss="dice",
                          show_bar=False))


def test_training_steps_with_nfl_lower_it():
    from tests.training.test_train import BACKBONE, _tiny_batch

    torch.manual_seed(0)
    model = build_ifcn(ModelSpec(backbone=BACKBONE), weights=None).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    batch = _tiny_batch()
    before = train_step(model, opt, batch, torch.device("cpu"), loss="nfl")
    train_step(model, opt, batch, torch.device("cpu"), loss="nfl")
    after = train_step(model, opt, batch, torch.device("cpu"), loss="nfl")
    assert after < before
