"""Validation of a training run: mean per-object IoU of the thresholded logits, void pixels ignored."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

from models.metrics import iou


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader, device: torch.device,
             autocast: Callable[[], Any] = nullcontext, channels_last: bool = False) -> tuple[float, int]:
    """(sum of per-object IoU, number of objects) over `loader`, void pixels ignored."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch in loader:
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
