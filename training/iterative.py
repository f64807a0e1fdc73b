"""Iterative click simulation for training (RITM-style, Sofiiuk et al. 2022, §3.2).

The paper's sampler (training.sampling) draws every click of a pair at once, independently of the
network, so a network trained on it never sees the clicks that fix *its own* mistakes: in the NoC
benchmark its later corrective clicks move the boundary too little. Here, before an optimiser step,
the network (in eval mode, no gradients) predicts the batch, the NoC oracle
(`models.metrics.next_click`, the same function the benchmark uses) places one corrective click per
sample in the largest error, that click is added to the input with the core click encoding, and so
on for a few rounds; the step then trains on the corrected click sets.

Optionally a batch first drops back to a single positive click per sample, as the benchmark's first
click, so that short click sequences (1 positive + corrections) are trained too.

Clicks are read back from the input itself: a pixel whose distance map is 0 is a click (the encoding
never writes 0 anywhere else), so no click list has to travel with the batch.

With `IterativeConfig.refine` the oracle looks at what the annotator would show instead of the network's own
mask: its probability edge-snapped and colour-refined (`models.edge_snap.snap`, `models.colour_refine.refine`,
the annotator's defaults), so the network is trained on the clicks a user makes on the annotator's mistakes.

A model with the previous-mask input (`ModelSpec.prev_mask`, RITM's) gets, in its sixth channel, the
probability it predicted in the round before the last click was added, as the predictor gives it at a click;
batches without corrective rounds keep it at zero (a first click).
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from models import colour_refine, edge_snap
from models.clicks import Click, distance_map
from models.inputs import NEG, POS, PREV, scale_maps
from models.metrics import next_click
from models.spec import ModelSpec


@dataclass(frozen=True)
class IterativeConfig:
    """How many corrective clicks to simulate and how often."""

    max_clicks: int = 0            # up to this many rounds per batch (0 = off, the paper's training)
    prob: float = 0.8              # fraction of batches that get corrective clicks
    single_first_prob: float = 0.3  # fraction of those reduced to one positive click first
    refine: bool = False           # place the clicks on the annotator's refined mask (`pipeline_mask`)

    def __post_init__(self) -> None:
        if self.max_clicks < 0:
            raise ValueError(f"max_clicks must be >= 0, got {self.max_clicks}")
        for name in ("prob", "single_first_prob"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {v}")

    @property
    def enabled(self) -> bool:
        return self.max_clicks > 0 and self.prob > 0.0


def clicks_in_input(x: np.ndarray) -> list[Click]:
    """The clicks encoded in one (5, H, W) input: the pixels where U_pos or U_neg is 0."""
    out: list[Click] = []
    for channel, positive in ((POS, True), (NEG, False)):
        ys, xs = np.nonzero(x[channel] <= 0.0)
        out.extend(Click(float(cx), float(cy), positive) for cx, cy in zip(xs, ys))
    return out


def add_click(x: np.ndarray, click: Click, spec: ModelSpec) -> None:
    """Add `click` to the (5, H, W) input in place (its map becomes the minimum with the new distances)."""
    h, w = x.shape[1:]
    d = scale_maps(distance_map([(click.x, click.y)], h, w, spec.clamp), spec)
    channel = POS if click.positive else NEG
    np.minimum(x[channel], d, out=x[channel])


def photo_of_input(x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The uint8 HxWx3 photo of one normalised input (`models.inputs.normalize_rgb` undone)."""
    mean = np.asarray(spec.mean, np.float32).reshape(3, 1, 1)
    std = np.asarray(spec.std, np.float32).reshape(3, 1, 1)
    rgb = (x[:3] * std + mean) * np.float32(255.0)
    return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8).transpose(1, 2, 0))


def pipeline_mask(x: np.ndarray, prob: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """What the annotator shows for one input `x` (5, H, W) whose network probability is `prob` (H, W): edge
    snapping, then colour refinement, with their default settings; a bool mask."""
    rgb, clicks = photo_of_input(x, spec), clicks_in_input(x)
    if not any(c.positive for c in clicks):
        return prob >= 0.5
    cache = edge_snap.GuideCache(rgb)
    p = edge_snap.snap(rgb, prob, clicks, edge_snap.EdgeSnap(), cache=cache)
    return colour_refine.refine(rgb, p, clicks, cache=cache) >= 0.5


def keep_one_positive(x: np.ndarray, spec: ModelSpec, rng: np.random.Generator) -> None:
    """Reduce the clicks of one (5, H, W) input to a single positive click (chosen at random), in place."""
    ys, xs = np.nonzero(x[POS] <= 0.0)
    if len(xs) == 0:
        return
    i = int(rng.integers(len(xs)))
    h, w = x.shape[1:]
    x[POS] = scale_maps(distance_map([(int(xs[i]), int(ys[i]))], h, w, spec.clamp), spec)
    x[NEG] = scale_maps(distance_map([], h, w, spec.clamp), spec)  # no negative click
    if spec.prev_mask:
        x[PREV] = 0.0  # a first click has no previous prediction


@torch.no_grad()
def simulate(model: torch.nn.Module, batch: dict[str, torch.Tensor], spec: ModelSpec,
             cfg: IterativeConfig, rng: np.random.Generator, device: torch.device,
             autocast: Callable[[], Any] = nullcontext, channels_last: bool = False,
             rounds: int | None = None) -> int:
    """Add corrective clicks to `batch["input"]` in place; returns the number of rounds run.

    Each round: predict with `model` in eval mode, then one oracle click per sample in its largest
    error (void pixels and clicked pixels excluded; with `cfg.refine`, of the refined mask). Samples with no
    error left get no click. `rounds` runs exactly that many (validation); None draws them from `cfg`.
    """
    if rounds is None:
        if not cfg.enabled or rng.random() >= cfg.prob:
            return 0
        rounds = int(rng.integers(1, cfg.max_clicks + 1))
    elif rounds <= 0:
        return 0
    x = batch["input"].numpy()  # shares memory with the tensor
    gt = batch["target"].numpy()[:, 0] > 0.5
    ign = batch["ignore"].numpy()[:, 0] > 0.5
    if rng.random() < cfg.single_first_prob:
        for i in range(x.shape[0]):
            keep_one_positive(x[i], spec, rng)
    was_training = model.training
    model.eval()
    try:
        for _ in range(rounds):
            inp = batch["input"].to(device)
            if channels_last:
                inp = inp.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = model(inp).float()
            if cfg.refine:
                prob = torch.sigmoid(logits).cpu().numpy()[:, 0]
                pred = np.stack([pipeline_mask(x[i], prob[i], spec) for i in range(x.shape[0])])
            else:
                pred = (logits > 0).cpu().numpy()[:, 0]
            for i in range(x.shape[0]):
                click = next_click(pred[i], gt[i], ign[i], clicks_in_input(x[i]))
                if click is not None:
                    add_click(x[i], click, spec)
            if spec.prev_mask:  # what the model predicted before this round's click: its previous mask
                x[:, PREV] = torch.sigmoid(logits).cpu().numpy()[:, 0]
    finally:
        model.train(was_training)
    return rounds
