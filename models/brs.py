"""f-BRS-B (Sofiiuk et al., "f-BRS: Rethinking Backpropagating Refinement for Interactive Segmentation",
CVPR 2020): make the prediction agree with the user's clicks when the network alone does not.

A network trained on simulated clicks sometimes ignores a click (the pixel the user clicked as background
stays foreground). f-BRS then optimises a per-channel scale and bias of the backbone features, the
network's weights untouched, so that the click pixels get the labels the user gave them:

    loss = mean over positive click discs of -log p + mean over negative discs of -log(1 - p)
           + reg_weight * (|scale - 1|^2 + |bias|^2)

minimised with L-BFGS (at most `max_evals` evaluations and `time_ratio` x the backbone's time), stopping as
soon as every click-disc pixel is on the right side of `prob_thresh`. The backbone runs once. The FCN head is
linear in the features, so the click-disc logits are affine in the scales and biases: their Jacobian is
built once (`disc_jacobian`: the head's upsampling rows at the fused-map cells the discs read, composed from
its deconvolution kernels) and an evaluation is then one small matrix product, with the loss's gradient in
closed form (`click_loss`), instead of a run of the head. The settings are those of the authors' code (RITM) except
the click loss: theirs, (1 - p)^2 and p^2, has almost no gradient where the network is confidently wrong
(p ~ 1e-5 at an ignored click), which is exactly where it is needed; cross-entropy on the logits has.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.optimize import fmin_l_bfgs_b
from scipy.special import expit

from models import clicks as clicks_mod
from models.clicks import Click
from models.fcn import score_map
from models.threads import torch_threads

__all__ = ["BRS", "LOSSES", "DiscJacobian", "click_discs", "disc_jacobian", "disc_pixels", "refine_logits"]

#: "bce": binary cross-entropy on the logits of the click discs (the default: its gradient does not vanish
#: when the network is confidently wrong); "squared": the authors' (1 - p)^2 / p^2 on probabilities.
LOSSES = ("bce", "squared")


@dataclass(frozen=True)
class BRS:
    """f-BRS-B settings: click disc radius (px of the network input), L-BFGS budget (evaluations, and time
    as a multiple of the backbone's forward time, which the caller measures; the time budget never stops it
    before `min_evals` evaluations, so a loaded machine or a tiny image still gets a real attempt), regulariser."""

    radius: int = 5
    max_evals: int = 20
    reg_weight: float = 1e-3
    prob_thresh: float = 0.49
    loss: str = "bce"
    time_ratio: float = 0.8
    min_evals: int = 5

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"f-BRS loss must be one of {LOSSES}, got {self.loss!r}")
        if self.radius < 0 or self.max_evals < 1 or self.reg_weight < 0 or not 0 < self.prob_thresh < 1 \
                or not self.time_ratio > 0 \
                or self.min_evals < 0:
            raise ValueError(f"invalid f-BRS settings: {self}")


def click_discs(clicks: Sequence[Click], h: int, w: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (h, w) masks of the discs of `radius` around the positive / the negative clicks, each pixel on the
    side of its nearest click (`models.clicks.disc_pixels`): the same pixels as GrabCut's definite seeds
    (`models.grabcut`) and every refinement's, the centre clipped into the image."""
    return clicks_mod.click_discs(clicks, h, w, radius, clip_centres=True)


def disc_pixels(clicks: Sequence[Click], h: int, w: int, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ys, xs, is_pos) of the pixels of `click_discs` (row-major order), from the discs' own offsets: no
    full-size masks drawn and searched (0.4 -> 0.05 ms at 481x321)."""
    return clicks_mod.disc_pixels(clicks, h, w, radius, clip_centres=True)


class _BudgetSpent(Exception):
    """Raised inside the L-BFGS objective to stop it when f-BRS's evaluations or time are spent."""


def _respected(z: np.ndarray, is_pos: np.ndarray, thresh: float) -> bool:
    """True when every click-disc pixel (logits `z`, positive where `is_pos`) is on its side of `thresh`."""
    prob = expit(z)
    return bool((prob[is_pos] > thresh).all()) and bool((prob[~is_pos] < thresh).all())


def _axis_terms(dst: np.ndarray, factor: int, cells: int) -> tuple[np.ndarray, ...]:
    """For output coordinates `dst` along one axis of `IFCN.upsample_logits` (transposed conv of stride
    `factor`, kernel 2 * factor, padding factor // 2, cut at the input's end: `models.fcn.fit_to`): the (n, 2)
    indices of the two low-resolution cells, their kernel taps and weights (validity) that make it."""
    pad = factor // 2
    o = np.minimum(np.asarray(dst, np.int64), cells * factor - 1)  # deconv output row; past the end: fit_to's edge
    hi = (o + pad) // factor
    cell = np.stack([hi - 1, hi], 1)                               # (n, 2) contributing cells
    tap = o[:, None] + pad - cell * factor                         # kernel index, in [0, 2 * factor)
    weight = ((cell >= 0) & (cell < cells)).astype(np.float64)
    return np.clip(cell, 0, cells - 1), np.clip(tap, 0, 2 * factor - 1), weight


def _up_rows(kernel: np.ndarray, factor: int, in_hw: tuple[int, int], ys: np.ndarray,
             xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, weight), both (n, 4) numpy: the rows at output pixels (ys, xs) of "transposed conv (`kernel`,
    stride `factor`) of an `in_hw` map, cut to the input" as weights on the input's cells."""
    ci, ti, wi = _axis_terms(ys, factor, in_hw[0])
    cj, tj, wj = _axis_terms(xs, factor, in_hw[1])
    n = len(ys)
    index = ci[:, :, None] * in_hw[1] + cj[:, None, :]
    weight = wi[:, :, None] * wj[:, None, :] * kernel[ti[:, :, None], tj[:, None, :]]
    return index.reshape(n, 4), weight.reshape(n, 4)


def _kernel(up: torch.nn.Module) -> np.ndarray:
    """The (k, k) filter of an `models.fcn.Upsample` in 'deconv' mode (one filter, shared by its channels)."""
    return up.deconv.weight.detach()[0, 0].float().cpu().numpy().astype(np.float64)


def pixel_sampler(net: torch.nn.Module, low: tuple[int, int], ys: np.ndarray,
                  xs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(index, weight), both (n, 4), such that `(s.flatten()[index] * weight).sum(1)` equals
    `net.upsample_logits(s, size)` at the pixels (ys, xs), whatever the input size (ys, xs inside it), for any
    low-resolution logit map `s` of shape
    `low`: f-BRS needs the logits at the click discs only, and this skips upsampling the whole map. None
    when the last upsampling is not a transposed convolution."""
    if net.spec.upsample != "deconv":
        return None
    index, weight = _up_rows(_kernel(net.up_final), net.spec.stride, tuple(low), ys, xs)
    return torch.from_numpy(index), torch.from_numpy(weight.astype(np.float32))


@dataclass(frozen=True)
class DiscJacobian:
    """d logits / d (scales, biases) at n click-disc pixels, factored as S @ D: `rows` D (m, P) are the rows at
    the m cells of the fused logit map that the pixels read, and S (n, m) takes each pixel's 4 upsampling taps
    (`taps` into those rows, `weight`). Applying it or its transpose costs m x P: never forming the (n, P) product
    saves its build (a sparse product of 3-5 ms with 10-20 clicks, thousands of disc pixels) and makes each
    L-BFGS evaluation cheaper."""

    rows: np.ndarray    # (m, P) float64
    taps: np.ndarray    # (n, 4) int64 indices into rows
    weight: np.ndarray  # (n, 4) float64

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.taps.shape[0]), int(self.rows.shape[1])

    def __matmul__(self, params: np.ndarray) -> np.ndarray:
        """J @ params: (n,) logit changes at the disc pixels."""
        return ((self.rows @ params)[self.taps] * self.weight).sum(1)

    def rmatvec(self, dz: np.ndarray) -> np.ndarray:
        """J.T @ dz: (P,) the gradient in the parameters of a loss whose gradient in the disc logits is `dz`."""
        per_cell = np.bincount(self.taps.reshape(-1), (dz[:, None] * self.weight).reshape(-1),
                               minlength=self.rows.shape[0])
        return self.rows.T @ per_cell

    def dense(self) -> np.ndarray:
        """The (n, P) matrix itself (tests)."""
        return (self.rows[self.taps] * self.weight[..., None]).sum(1)


@torch.no_grad()
def disc_jacobian(net: torch.nn.Module, feats: dict[int, torch.Tensor], index: torch.Tensor,
                  weight: torch.Tensor) -> DiscJacobian:
    """(n, 2 * channels): d logits / d (scales, biases) at the n pixels of `pixel_sampler`'s (index, weight),
    in `refine_logits`' parameter order (all scales stride by stride, then all biases), as a `DiscJacobian`.
    Exact, as the head is linear: channel c of stride s adds w_c * (f_c * scale_c + bias_c) to that stride's
    score map.

    Only the m cells of the fused logit map that the pixels read matter: for each coarser stride, the rows of
    the head's upsampling path (`combine`: transposed conv, cut to the finer map) at those cells are
    composed from the deconvolution kernels (`_up_rows`), so the cost is m x (cells x channels), not every
    feature channel pushed through the upsamplings (the earlier way: 7-14 ms per call)."""
    strides = net.head_strides
    dev = feats[strides[0]].device
    n, taps = index.shape
    cells, inv = np.unique(index.cpu().numpy().reshape(-1), return_inverse=True)
    m = len(cells)
    at_hw = tuple(feats[strides[0]].shape[-2:])
    op: np.ndarray | None = None  # (m, cells of the current map): each fused cell's weights on that map
    scale_cols, bias_cols = [], []
    for s in strides:
        f = feats[s][0].float()                                          # (C, h, w)
        c, hw = f.shape[0], tuple(f.shape[-2:])
        wt = getattr(net, f"score{s}").weight.detach().reshape(-1).to(f)  # (C,)
        if s == strides[0]:  # the fused map's own cells: a gather
            scale_cols.append(f.reshape(c, -1)[:, torch.from_numpy(cells).to(dev)].T * wt[None, :])
            bias_cols.append(wt[None, :].expand(m, c))
            continue
        # one more upsampling (from s to s / 2) between this map and the previous one: its rows at the previous
        # map's cells that the fused cells read (each computed once), composed with what led there
        used = cells if op is None else np.flatnonzero(op.any(0))
        ys, xs = np.divmod(used, at_hw[1])
        idx, w = _up_rows(_kernel(getattr(net, f"up{s}to{s // 2}")), 2, hw, ys, xs)
        k, at_hw = len(used), hw
        up = np.bincount((np.arange(k)[:, None] * (hw[0] * hw[1]) + idx).reshape(-1), w.reshape(-1),
                         minlength=k * hw[0] * hw[1]).reshape(k, -1)    # (used cells, cells of stride s)
        op = up if op is None else op[:, used] @ up
        op_t = torch.from_numpy(op).to(f)                                # (m, cells of stride s)
        scale_cols.append(op_t @ (f.reshape(c, -1) * wt[:, None]).T)      # (m, C)
        bias_cols.append(op_t.sum(1, keepdim=True) * wt[None, :])
    return DiscJacobian(torch.cat(scale_cols + bias_cols, 1).double().cpu().numpy(), inv.reshape(n, taps),
                        weight.double().cpu().numpy())


def click_loss(z: np.ndarray, sign: np.ndarray, per: np.ndarray, loss: str = "bce",
               with_grad: bool = False) -> tuple[float, np.ndarray | None]:
    """f-BRS's click loss on the disc logits `z`, and (with `with_grad`) its derivative in z, in closed form.

    `sign` is -1 at positive-click pixels and +1 at negative ones, `per` each pixel's weight (1 / the number of
    pixels of its side). With u = sign * z: "bce" sums per * softplus(u) (d/dz = sign * per * sigmoid(u));
    "squared" sums per * sigmoid(u)^2, the authors' (1 - p)^2 and p^2 (d/dz = 2 * sign * per * sigmoid(u)^2 *
    (1 - sigmoid(u)))."""
    u = sign * z
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite logits (broken weights): the caller falls back
        return _click_loss(u, sign, per, loss, with_grad)


def _click_loss(u: np.ndarray, sign: np.ndarray, per: np.ndarray, loss: str,
                with_grad: bool) -> tuple[float, np.ndarray | None]:
    if loss == "bce":
        value = float((per * np.logaddexp(0.0, u)).sum())
        grad = sign * per * expit(u) if with_grad else None
    else:
        q = expit(u)
        value = float((per * q * q).sum())
        grad = 2 * sign * per * q * q * (1 - q) if with_grad else None
    return value, grad


def refine_logits(net: torch.nn.Module, feats: dict[int, torch.Tensor], clicks: Sequence[Click],
                  size: tuple[int, int], cfg: BRS = BRS(), budget_s: float | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> tuple[torch.Tensor, int]:
    """Logits (1, 1, h, w) of `net.head` on `feats` after f-BRS-B for `clicks`, and the number of head
    evaluations run (1 when the clicks were already respected, so nothing was optimised: the logits are then
    exactly the head's; at most `cfg.max_evals` + 1). When the budget runs out first — `cfg.max_evals`
    evaluations, or `budget_s` seconds of `clock` since the call began (checked only after `cfg.min_evals`
    evaluations) — the logits of the lowest loss seen are returned.

    `net` is an `models.fcn.IFCN` (its `head` is linear in the features); `feats` its `features(x)` for
    the input whose click maps came from `clicks` (coordinates in that input's pixels). Evaluations compute
    the logits at the click discs only (`pixel_sampler`, `disc_jacobian`), the full map once at the end."""
    start = clock()
    h, w = size
    strides = net.head_strides
    dev = feats[strides[0]].device
    ys, xs, is_pos = disc_pixels(clicks, h, w, cfg.radius)
    with torch.no_grad():
        fused = net.fuse(feats)
        # the logits at the discs, from the fused map's cells they read; the whole map is upsampled only for the
        # result (an optimised click never needs the network's own full map: 1-1.5 ms saved)
        sampler = pixel_sampler(net, tuple(fused.shape[-2:]), ys, xs) if len(ys) else None
        if sampler is None:
            z0 = net.upsample_logits(fused, (h, w))[0, 0][ys, xs].double().cpu().numpy()
        else:
            sampler = tuple(t.to(dev) for t in sampler)
            z0 = (fused.float().reshape(-1)[sampler[0]] * sampler[1]).sum(1).double().cpu().numpy()
    if _respected(z0, is_pos, cfg.prob_thresh):
        with torch.no_grad():
            return net.upsample_logits(fused, (h, w)), 1
    # the optimisation's ops are small (a few thousand disc pixels, one head pass): on 2 cores, 2 intra-op
    # threads made it 2.5x slower at the median and 4.5x at p95 than 1 (thread hand-offs); the backbone before
    # it and the head pass above keep every thread (the latter so that its logits stay exactly the head's)
    # (SciPy's L-BFGS uses BLAS, which the CPU predictor keeps on one thread: `models.threads`)
    with torch_threads(1) if dev.type == "cpu" else nullcontext():
        return _optimise(net, feats, fused, z0, sampler, (ys, xs, is_pos), size, cfg, budget_s, clock, start)


def _optimise(net: torch.nn.Module, feats: dict[int, torch.Tensor], fused: torch.Tensor, z0: np.ndarray,
              sampler: tuple[torch.Tensor, torch.Tensor] | None, discs: tuple[np.ndarray, np.ndarray, np.ndarray],
              size: tuple[int, int], cfg: BRS, budget_s: float | None, clock: Callable[[], float],
              start: float) -> tuple[torch.Tensor, int]:
    """`refine_logits`' L-BFGS over per-channel scales and biases once the head's logits `z0` at the click discs
    (from `fused`, the map before the last upsampling, through `sampler`; None: no transposed convolution to
    sample) ignore a click; `discs` = (ys, xs, is_pos) of the click-disc pixels.

    With the disc Jacobian the objective is numpy on a few hundred values (no PyTorch op per evaluation); without
    it the head runs under autograd. The result's score maps come from the score layers' weights scaled by the
    parameters (the head is linear: w . (f * (1 + a) + b) = (w * (1 + a)) . f + w . b), so the features are never
    rescaled."""
    ys, xs, is_pos = discs
    h, w = size
    strides = net.head_strides
    feats = {s: feats[s].detach().float() for s in strides}
    sizes = [feats[s].shape[1] for s in strides]
    jac = None if sampler is None else disc_jacobian(net, feats, *sampler)
    n_pos, n_neg = max(1, int(is_pos.sum())), max(1, int((~is_pos).sum()))
    sign = np.where(is_pos, -1.0, 1.0)                  # the click loss's sign of z per disc pixel
    per = np.where(is_pos, 1.0 / n_pos, 1.0 / n_neg)    # and its weight (a mean per side)
    best: dict[str, object] = {"loss": np.inf, "params": None}
    evals = [1]

    def scores(params: torch.Tensor) -> torch.Tensor:
        """The fused logit map (before the last upsampling) for per-channel scales and biases `params`."""
        scale, bias = params.chunk(2)
        out, i = {}, 0
        for s, c in zip(strides, sizes):
            layer = getattr(net, f"score{s}")
            wt = layer.weight.reshape(-1).to(params)
            out[s] = score_map(feats[s], (wt * (1 + scale[i:i + c])).view(1, c, 1, 1).to(feats[s]),
                               (layer.bias + (wt * bias[i:i + c]).sum()).to(feats[s]))
            i += c
        return net.combine(out)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        evals[0] += 1
        if jac is not None:
            z = z0 + jac @ x
        else:  # no transposed-convolution upsampling to sample: the whole head, under autograd
            params = torch.from_numpy(x.astype(np.float32)).requires_grad_(True)
            with torch.enable_grad():
                zt = net.upsample_logits(scores(params), (h, w))[0, 0][ys, xs]
            z = zt.detach().double().cpu().numpy()
        loss, dz = click_loss(z, sign, per, cfg.loss, with_grad=True)
        value = loss + cfg.reg_weight * float(x @ x)
        if value < best["loss"]:
            best["loss"], best["params"] = value, x.copy()
        if _respected(z, is_pos, cfg.prob_thresh):
            return value, np.zeros_like(x)  # clicks respected: a zero gradient ends it
        if evals[0] > cfg.max_evals or (budget_s is not None and evals[0] > cfg.min_evals
                                        and clock() - start >= budget_s):
            raise _BudgetSpent  # L-BFGS's line search would ask again after a zero gradient
        if jac is not None:
            grad = jac.rmatvec(dz)
        else:  # the network's own weights get no gradient
            (g,) = torch.autograd.grad(zt, params, torch.from_numpy(dz).to(zt))
            grad = g.double().cpu().numpy()
        return value, grad + (2 * cfg.reg_weight) * x

    try:
        fmin_l_bfgs_b(fun, np.zeros(2 * sum(sizes), np.float64), m=20, factr=0, pgtol=1e-8,
                      maxfun=cfg.max_evals, maxiter=cfg.max_evals)
    except _BudgetSpent:
        pass
    with torch.no_grad():
        if best["params"] is not None and np.isfinite(best["loss"]):
            low = scores(torch.from_numpy(best["params"].astype(np.float32)).to(fused.device))
            if bool(torch.isfinite(low).all()):
                return net.upsample_logits(low, (h, w)), evals[0]
        # a non-finite loss or map (broken weights): the network's own output
        return net.upsample_logits(fused, (h, w)), evals[0]
