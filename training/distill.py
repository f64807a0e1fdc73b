"""Distillation targets (`ifcn train --teacher CKPT ... --distill-weight A`): frozen models whose mean logits,
through a sigmoid, are a soft target the student is also trained towards.

Why: two networks from different basins (the shipped v5, descended from synthetic composites, and a network
trained from ImageNet on the real photos) averaged need fewer clicks than either (MODEL_CARD, "Distillation"),
but running both would double the click latency. A student trained on the same inputs towards their mean
prediction can carry part of that gain at one network's cost. The teachers see exactly the student's input
(the same crop and the same sampled and corrective clicks), so every spec field that shapes the input must agree.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import torch

from models.checkpoint import load_checkpoint
from models.errors import IFCNError
from models.fold import fold_batchnorm
from models.spec import ModelSpec
from training.train_runtime import native_amp_dtype

#: What a teacher's input must share with the student's: the channels, the RGB normalisation and the click
#: maps' truncation (the backbone, stride and head may differ).
INPUT_FIELDS = ("in_channels", "mean", "std", "clamp", "prev_mask")


def _input_of(spec: ModelSpec) -> dict[str, object]:
    return {f: tuple(v) if isinstance(v := getattr(spec, f), (list, tuple)) else v for f in INPUT_FIELDS}


class Teachers:
    """Frozen teacher networks; calling it gives the soft target (N, 1, H, W) of an input batch: the sigmoid of
    their mean logits. They run under the device's mixed precision where it is native (`amp_dtype`; bf16 on this
    project's CPU: their output is a target, not a gradient, and a forward costs about 0.6x of fp32's there)."""

    def __init__(self, paths: Sequence[str | Path], student: ModelSpec, device: torch.device,
                 channels_last: bool = False) -> None:
        if not paths:
            raise IFCNError("distillation needs at least one --teacher checkpoint.")
        self.paths = [Path(p) for p in paths]
        self.device = device
        self.channels_last = channels_last
        self.nets: list[torch.nn.Module] = []
        want = _input_of(student)
        for path in self.paths:
            loaded = load_checkpoint(path)  # CheckpointError names the file (missing, hostile, corrupt)
            got = _input_of(loaded.spec)
            diff = [f"{f} {got[f]} (student {want[f]})" for f in INPUT_FIELDS if got[f] != want[f]]
            if diff:
                raise IFCNError(f"--teacher {path}: its input differs from the student's: {', '.join(diff)}; a "
                                "teacher must read the same input.")
            net = fold_batchnorm(loaded.model.eval()).requires_grad_(False).to(device)
            if channels_last:
                net = net.to(memory_format=torch.channels_last)
            self.nets.append(net)
        #: the teachers' autocast dtype (None: fp32)
        self.amp_dtype = native_amp_dtype(device)

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The teachers' mean logits (float32, N x 1 x H x W) for the input batch `x`."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        total = None
        with self._autocast():
            for net in self.nets:
                out = net(x).float()
                total = out if total is None else total + out
        return total / len(self.nets)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))
