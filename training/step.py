"""One optimiser step of iFCN training: BCE-with-logits averaged over the pixels that are not VOC void."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

import torch
import torch.nn.functional as F


def masked_bce(logits: torch.Tensor, target: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """Per-pixel BCE-with-logits averaged over pixels where `ignore` is 0 (VOC void excluded)."""
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    valid = 1.0 - ignore.float()
    return (per_pixel * valid).sum() / valid.sum().clamp_min(1.0)


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               device: torch.device, scaler: torch.amp.GradScaler | None = None,
               autocast: Callable[[], Any] = nullcontext, channels_last: bool = False) -> float:
    """One optimiser step on `batch` (dict of input/target/ignore tensors); returns the loss."""
    x = batch["input"].to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = batch["target"].to(device, non_blocking=True)
    ignore = batch["ignore"].to(device, non_blocking=True)
    with autocast():
        logits = net(x)
    loss = masked_bce(logits, target, ignore)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return float(loss.detach())
