"""One optimiser step of iFCN training: a per-pixel loss averaged over the pixels that are not void.

Two losses (`ifcn train --loss`): BCE-with-logits (the paper's; the default) and RITM's normalized focal loss
(Sofiiuk et al. 2021), which weights each pixel by (1 - p_t)^gamma rescaled so the weights of an image sum to its
number of valid pixels: the hard pixels (boundaries, regions the network ignores a click in) carry the loss.
With `ifcn train --click-weight` the BCE of the pixels near each click weighs more (`click_weights`). With
`ifcn train --teacher` (`training.distill`) a share of the loss is the BCE towards the teachers' soft target.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

import torch
import torch.nn.functional as F

from models.inputs import NEG, POS


def masked_bce(logits: torch.Tensor, target: torch.Tensor, ignore: torch.Tensor,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel BCE-with-logits averaged over pixels where `ignore` is 0 (VOC void excluded); with `weight`
    (per pixel, >= 1), each pixel's loss is multiplied by it before the sum (the mean stays over the valid pixels'
    count, so weight 1 everywhere is the plain loss)."""
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    valid = 1.0 - ignore.float()
    weighted = per_pixel * valid if weight is None else per_pixel * valid * weight
    return weighted.sum() / valid.sum().clamp_min(1.0)


def click_weights(x: torch.Tensor, weight: float, radius: float, clamp: float) -> torch.Tensor:
    """(N, 1, H, W): `weight` within `radius` px of any click of the input `x` (N, C, H, W), 1 elsewhere.

    The clicks' neighbourhoods are read from the click maps themselves (channels `POS` and `NEG`: distances divided
    by `clamp`), so no click list travels with the batch. A corrective click lies in the model's error, so its
    neighbourhood is where the loss says whether the click was taken; weighting it asks the network to follow
    each click (the network alone, no f-BRS, otherwise leaves some clicks unanswered and the oracle's next click
    lands beside them)."""
    near = torch.minimum(x[:, POS:POS + 1], x[:, NEG:NEG + 1]) * float(clamp) <= float(radius)
    return 1.0 + (float(weight) - 1.0) * near.float()


def masked_nfl(logits: torch.Tensor, target: torch.Tensor, ignore: torch.Tensor, gamma: float = 2.0,
               alpha: float = 0.5) -> torch.Tensor:
    """RITM's normalized focal loss (sigmoid), averaged over each image's valid pixels and then the batch.

    Per pixel: alpha_t * w * BCE, with w = (1 - p_t)^gamma scaled (without gradient through the scale) so that
    the w of an image's valid pixels sum to their count; `ignore` pixels get no loss and no weight.
    """
    logits, target = logits.float(), target.float()
    valid = 1.0 - ignore.float()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-bce)  # the probability given to the true label
    beta = (1.0 - p_t).pow(gamma) * valid
    dims = tuple(range(1, logits.dim()))
    n_valid = valid.sum(dim=dims, keepdim=True)
    mult = (n_valid / beta.sum(dim=dims, keepdim=True).clamp_min(1e-12)).detach()
    a = torch.where(target > 0.5, torch.full_like(target, alpha), torch.full_like(target, 1.0 - alpha))
    per_image = (a * beta * mult * bce).sum(dim=dims) / n_valid.flatten().clamp_min(1.0)
    return per_image.mean()


#: `ifcn train --loss` names.
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "bce": masked_bce, "nfl": masked_nfl}


def _eval_mode(module: torch.nn.Module, args: Any) -> None:
    module.training = False


def freeze_batchnorm(model: torch.nn.Module) -> int:
    """Make every BatchNorm layer of `model` normalise with its running statistics and keep them, whatever
    `model.train()` says (a forward pre-hook puts the layer in eval mode before each call); its scale and shift stay
    trainable. Fine-tuning with small batches then cannot drift the statistics the shipped model was exported with.
    Returns the number of layers frozen."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in layers:
        m.register_forward_pre_hook(_eval_mode)
    return len(layers)


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               device: torch.device, scaler: torch.amp.GradScaler | None = None,
               autocast: Callable[[], Any] = nullcontext, channels_last: bool = False,
               loss: str = "bce", click_focus: tuple[float, float, float] | None = None,
               teacher: Callable[[torch.Tensor], torch.Tensor] | None = None, distill: float = 0.0) -> float:
    """One optimiser step on `batch` (dict of input/target/ignore tensors) with the loss named `loss`
    (`LOSSES`); returns the loss. `click_focus` = (weight, radius in px, the click maps' clamp) weights the
    pixels near the clicks (`click_weights`; BCE only). With `teacher` (the input batch -> a soft target in
    [0, 1], `training.distill.Teachers`) the loss is (1 - distill) x that loss + distill x the BCE towards the
    soft target, over the same valid pixels with the same click weights."""
    x = batch["input"].to(device, non_blocking=True)
    weight = click_weights(x, *click_focus) if click_focus is not None else None
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = batch["target"].to(device, non_blocking=True)
    ignore = batch["ignore"].to(device, non_blocking=True)
    soft = teacher(x) if teacher is not None and distill > 0 else None
    with autocast():
        logits = net(x)
    value = LOSSES[loss](logits, target, ignore) if weight is None else masked_bce(logits, target, ignore, weight)
    if soft is not None:
        value = (1.0 - distill) * value + distill * masked_bce(logits, soft, ignore, weight)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(value).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        value.backward()
        optimizer.step()
    return float(value.detach())
