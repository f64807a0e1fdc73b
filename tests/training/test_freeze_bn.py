"""`ifcn train --freeze-bn`: BatchNorm layers normalise with their running statistics and keep them."""
from __future__ import annotations

import argparse

import torch

from models.backbones import spec_for
from models.checkpoint import load_checkpoint, save_checkpoint
from models.fcn import build_ifcn
from training.step import freeze_batchnorm
from training.train import TrainConfig, add_arguments, config_from_args, train

BACKBONE = "efficientnet_lite0"


def _bn_stats(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.clone() for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            for t in (m.running_mean, m.running_var)]


def test_frozen_layers_keep_their_statistics_and_train_as_they_infer():
    model = build_ifcn(spec_for(BACKBONE), weights=None)
    assert freeze_batchnorm(model) > 10
    before = _bn_stats(model)
    x = torch.randn(2, 5, 64, 64) * 3 + 1
    model.train()  # what the training loop, the corrective-click rounds and validation switch back to
    model(x).mean().backward()
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_stats(model)))
    with torch.no_grad():
        trained_mode = model(x)
        model.eval()
        assert torch.allclose(trained_mode, model(x))
    plain = build_ifcn(spec_for(BACKBONE), weights=None)
    plain.train()
    plain(x)
    assert not all(torch.equal(a, b) for a, b in zip(_bn_stats(build_ifcn(spec_for(BACKBONE), weights=None)),
                                                      _bn_stats(plain)))  # unfrozen, they move


def test_a_run_with_freeze_bn_keeps_the_initial_checkpoints_statistics(synthetic_devkit, tmp_path):
    init = tmp_path / "init.pt"
    save_checkpoint(init, build_ifcn(spec_for(BACKBONE), weights=None))
    kw = dict(voc_root=str(synthetic_devkit), backbone=BACKBONE, weights=None, mode="random", batch_size=2,
              crop_size=64, workers=0, device="cpu", max_steps=2, epochs=1000, val_limit=2, seed=3, show_bar=False,
              init_checkpoint=str(init), iterative=2, lr=1e-2)
    frozen = train(TrainConfig(out=str(tmp_path / "frozen"), freeze_bn=True, **kw))
    moving = train(TrainConfig(out=str(tmp_path / "moving"), **kw))
    assert frozen.status == moving.status == "completed"
    start = _bn_stats(load_checkpoint(init).model)
    after = load_checkpoint(tmp_path / "frozen" / "last.pt")
    assert all(torch.equal(a, b) for a, b in zip(start, _bn_stats(after.model)))
    assert after.meta["training"]["freeze_bn"] is True
    assert not all(torch.equal(a, b) for a, b in zip(start, _bn_stats(load_checkpoint(tmp_path / "moving" /
                                                                                       "last.pt").model)))
    # the weights themselves did train
    w0, w1 = load_checkpoint(init).model.state_dict(), after.model.state_dict()
    assert any(not torch.equal(w0[k], w1[k]) for k in w0 if "running" not in k and "num_batches" not in k)


def test_the_option_reaches_the_training_config():
    p = argparse.ArgumentParser()
    add_arguments(p)
    assert config_from_args(p.parse_args(["--voc-root", "x", "--out", "o", "--freeze-bn"])).freeze_bn
    assert not config_from_args(p.parse_args(["--voc-root", "x", "--out", "o"])).freeze_bn
