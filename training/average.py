"""`ifcn average`: one model whose weights are the mean of several checkpoints' ("model soup", Wortsman et al.
2022; stochastic weight averaging, Izmailov et al. 2018).

Checkpoints fine-tuned from one starting model lie in one basin of the loss, and their mean is often better than
each of them: the noise of each run's last steps averages out. Every input must have the same architecture
(spec); floating-point tensors (weights, BatchNorm statistics) are averaged in float32, integer ones
(BatchNorm's step counters) are taken from the first. The result is a plain checkpoint (fp32, no resumable state)
for `ifcn noc` and `ifcn export`. Files load with the checkpoint reader's safety checks (`models.checkpoint`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import CheckpointError

__all__ = ["average_checkpoints", "add_arguments", "run"]


def average_checkpoints(paths: list[Path], out: Path) -> dict:
    """Write the uniform mean of `paths` (>= 2, one spec) to `out`; returns the metadata written."""
    if len(paths) < 2:
        raise CheckpointError("ifcn average: give at least two checkpoints.")
    first = load_checkpoint(paths[0])
    model, spec = first.model, first.model.spec.to_dict()
    sums = {k: v.detach().float().clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    for p in paths[1:]:
        other = load_checkpoint(p).model
        theirs = other.spec.to_dict()
        if theirs != spec:
            diff = ", ".join(f"{k} {theirs.get(k)!r} vs {spec.get(k)!r}" for k in sorted(set(spec) | set(theirs))
                             if theirs.get(k) != spec.get(k))
            raise CheckpointError(f"{p}: another architecture than {paths[0]} ({diff}): only checkpoints of one "
                                  "model can be averaged.")
        state = other.state_dict()
        for k in sums:
            sums[k] += state[k].detach().float()
    merged = {k: v / len(paths) for k, v in sums.items()}
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k in merged:
                v.copy_(merged[k].to(v.dtype))
    meta = {"averaged_from": [str(p) for p in paths],
            "note": f"uniform weight average of {len(paths)} checkpoints (ifcn average)"}
    save_checkpoint(out, model, meta=meta, extra={}, half=False)
    return meta


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`ifcn average CHECKPOINT CHECKPOINT ... --out FILE`."""
    parser.add_argument("checkpoints", nargs="+", type=Path, help="checkpoints of one architecture (two or more)")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write (fp32)")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn average`."""
    average_checkpoints(list(args.checkpoints), args.out)
    print(f"wrote {args.out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0
