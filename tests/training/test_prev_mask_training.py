"""Training with the previous-mask input (`ifcn train --prev-mask`): the corrective rounds fill the sixth channel
with the model's previous prediction, a 5-channel init checkpoint is widened, and runs resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.clicks import Click
from models.errors import IFCNError
from models.fcn import build_ifcn
from models.inputs import PREV, make_input
from models.spec import ModelSpec
from training.iterative import IterativeConfig, keep_one_positive, simulate
from training.train import TrainConfig, train

SPEC = ModelSpec(backbone="efficientnet_lite0", prev_mask=True)


class _Shifting(torch.nn.Module):
    """Predicts a fixed mask on its first call and another one after: the previous mask must be the first."""

    def __init__(self, first: np.ndarray, later: np.ndarray) -> None:
        super().__init__()
        self.masks = [torch.from_numpy(np.where(m, 4.0, -4.0).astype(np.float32)) for m in (first, later)]
        self.calls = 0
        self.seen_prev: list[np.ndarray] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_prev.append(x[:, PREV].numpy().copy())
        m = self.masks[min(self.calls, 1)]
        self.calls += 1
        return m.expand(x.shape[0], 1, *m.shape)


def _sigmoid_of(mask: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.where(mask, 4.0, -4.0)))


def test_rounds_fill_the_previous_mask_with_the_prediction_before_the_last_click():
    h, w = 48, 64
    gt = np.zeros((h, w), bool)
    gt[10:40, 10:50] = True
    first, later = gt.copy(), gt.copy()
    first[10:40, 30:50] = False  # misses the right half
    later[10:25, 10:50] = False  # misses the top half
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    start = [Click(20, 25, True)]
    seen_rounds = set()
    for seed in range(12):  # draws of one round and of two
        batch = {"input": torch.from_numpy(make_input(rgb, start, SPEC)[None].copy()),
                 "target": torch.from_numpy(gt[None, None].astype(np.float32)), "ignore": torch.zeros(1, 1, h, w)}
        model = _Shifting(first, later)
        cfg = IterativeConfig(max_clicks=2, prob=1.0, single_first_prob=0.0)
        rounds = simulate(model, batch, SPEC, cfg, np.random.default_rng(seed), torch.device("cpu"))
        seen_rounds.add(rounds)
        assert model.seen_prev[0].max() == 0.0  # the first round has no previous prediction
        x = batch["input"].numpy()[0]
        if rounds == 2:  # the second round saw the first's prediction
            np.testing.assert_allclose(model.seen_prev[1][0], _sigmoid_of(first), atol=1e-6)
        # after the rounds: the prediction made before the last click was added
        np.testing.assert_allclose(x[PREV], _sigmoid_of(first if rounds == 1 else later), atol=1e-6)
    assert seen_rounds == {1, 2}


def test_single_first_click_clears_the_previous_mask():
    rgb = np.zeros((32, 32, 3), np.uint8)
    x = make_input(rgb, [Click(5, 5, True), Click(20, 20, True)], SPEC, np.ones((32, 32), np.float32))
    keep_one_positive(x, SPEC, np.random.default_rng(0))
    assert x[PREV].max() == 0.0


def _cfg(devkit, out, **kw):
    base = dict(voc_root=str(devkit), out=str(out), mode="random", batch_size=2, crop_size=64, workers=0,
                device="cpu", max_steps=2, epochs=1000, val_limit=2, seed=3, show_bar=False, iterative=2,
                iterative_prob=1.0)
    base.update(kw)
    return TrainConfig(**base)


def test_prev_mask_run_widens_a_five_channel_init_checkpoint_and_resumes(synthetic_devkit, tmp_path):
    torch.manual_seed(0)
    plain = build_ifcn(ModelSpec(backbone="efficientnet_lite0"))
    save_checkpoint(tmp_path / "init.pt", plain)
    res = train(_cfg(synthetic_devkit, tmp_path / "run", init_checkpoint=str(tmp_path / "init.pt"),
                     prev_mask=True))
    assert res.status == "completed" and all(np.isfinite(res.losses))
    model = load_checkpoint(res.last_path).model
    assert model.spec.prev_mask and model.spec.in_channels == 6
    conv = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.shape[1] == 6 and conv.weight[:, PREV].abs().max() > 0  # trained, not left at zero
    again = train(_cfg(synthetic_devkit, tmp_path / "run", prev_mask=True, resume=True, max_steps=3))
    assert again.status == "completed" and again.steps == 3 and len(again.losses) == 1  # steps 2 -> 3


def test_resuming_a_plain_run_with_prev_mask_is_refused(synthetic_devkit, tmp_path):
    res = train(_cfg(synthetic_devkit, tmp_path / "run", backbone="efficientnet_lite0", weights=None))
    assert res.status == "completed"
    with pytest.raises(IFCNError, match="previous-mask"):
        train(_cfg(synthetic_devkit, tmp_path / "run", backbone="efficientnet_lite0", weights=None, resume=True,
                   prev_mask=True, max_steps=3))


def test_validation_after_corrective_clicks(synthetic_devkit, tmp_path):
    """--val-clicks validates after oracle corrections: deterministic, over every object, recorded;
    out-of-range values are refused."""
    from torch.utils.data import DataLoader

    from training.datasets import make_dataset
    from training.validation import validate

    res = train(_cfg(synthetic_devkit, tmp_path / "run", backbone="efficientnet_lite0", weights=None,
                     prev_mask=True, val_clicks=2))
    assert load_checkpoint(res.last_path).meta["training"]["val_clicks"] == 2
    model = load_checkpoint(res.last_path).model
    ds = make_dataset(synthetic_devkit, "val", "random", model.spec, crop_size=64, augment=False, seed=1)
    loader = DataLoader(ds, batch_size=2, shuffle=False)
    first = validate(model, loader, torch.device("cpu"), clicks=2)
    assert first == validate(model, loader, torch.device("cpu"), clicks=2)
    assert first[1] == len(ds)
    with pytest.raises(IFCNError, match="val-clicks"):
        train(_cfg(synthetic_devkit, tmp_path / "bad", val_clicks=-1))
