"""Validation of a training run: mean per-object IoU of the thresholded logits, void pixels ignored; optionally
after a number of corrective clicks placed by the benchmark's oracle in the model's own errors (`--val-clicks`),
which measures what a click sequence gives, the previous-mask input included."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from models.metrics import iou
from training.iterative import IterativeConfig, simulate


_AS_SAMPLED = IterativeConfig(single_first_prob=0.0)  # the corrective clicks go after the sampled ones


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader, device: torch.device,
             autocast: Callable[[], Any] = nullcontext, channels_last: bool = False,
             clicks: int = 0) -> tuple[float, int]:
    """(sum of per-object IoU, number of objects) over `loader`, void pixels ignored; with `clicks`, after that
    many oracle corrective clicks (deterministic: the oracle draws nothing at random)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch in loader:
            if clicks > 0:
                simulate(model, batch, model.spec, _AS_SAMPLED, np.random.default_rng(0), device, autocast,
                         channels_last, rounds=clicks)
            x = batch["input"].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = model(x)
            pred = (logits.float() > 0).cpu().numpy()
            gt = batch["target"].numpy() > 0.5
            ign = batch["ignore"].numpy() > 0.5
            for i in range(pred.shape[0]):
                total += iou(pred[i, 0], gt[i, 0], ign[i, 0])
                count += 1
    finally:
        model.train(was_training)
    return total, count
