"""The predictor: the only inference path (GUI, NoC benchmark and tests all use it).

    p = Predictor.load(checkpoint=None, device="auto")   # None = the default model in resources/
    p.set_image(rgb)                                       # HxWx3 uint8
    prob = p.predict([Click(x=120, y=80, positive=True)], refine=False)  # float32 HxW in [0, 1]
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from models import colour_refine, edge_snap, grabcut
from models.brs import BRS, refine_logits
from models.checkpoint import load_checkpoint
from models.clicks import Click, DistanceMapCache, distance_maps, validate_clicks
from models.colour_refine import REFINE_METHODS
from models.edge_snap import EdgeSnap, GuideCache, snap as snap_to_edges
from models.device import resolve_device
from models.engines import FeatureEngine, make_engine
from models.errors import IFCNError
from models.fcn import IFCN, padded_size
from models.fold import fold_batchnorm
from models.inputs import extra_channels, normalize_rgb
from models.refiner import refine as learned_refine
from models.regions import (DEFAULT_MAX_SIZE, DEFAULT_NET_SIZE, despeckle, fit_longest, reaches_cut_edge,
                            scaled_clicks)
from models.spec import ModelSpec
from models.threads import limit_blas_threads
from models.zoom import ZoomIn, zoom_roi

__all__ = ["BRS", "Click", "EdgeSnap", "Predictor", "GRABCUT", "REFINE_METHODS", "ZoomIn", "fit_longest", "fold_batchnorm"]

log = logging.getLogger(__name__)

#: `Predictor.load(GRABCUT)` gives the classical GrabCut-from-clicks predictor.
GRABCUT = "grabcut"
#: What `predict(..., refine=True)` runs (`REFINE_METHODS`): "colour" (`models.colour_refine`, the default: as
#: good as GrabCut on the real benchmarks at a few per cent of its time) or "grabcut" (`models.grabcut.refine`).
DEFAULT_REFINE_METHOD = "colour"
_HISTORY = 16  # network predictions remembered per image (click sequences, undo/redo, refinement)


def default_checkpoint() -> Path:
    """Where the shipped default model lives."""
    from resources import DEFAULT_CHECKPOINT
    return DEFAULT_CHECKPOINT


class Predictor:
    """Click → probability map for one image at a time, with an iFCN or the GrabCut fallback."""

    def __init__(self, model: IFCN | None, device: str | torch.device = "cpu",
                 max_size: int = DEFAULT_MAX_SIZE, checkpoint_path: Path | None = None,
                 meta: dict[str, Any] | None = None, zoom_in: ZoomIn | None = None,
                 brs: BRS | None = BRS(), engine: str = "torch", net_size: int | None = DEFAULT_NET_SIZE,
                 snap: EdgeSnap | None = EdgeSnap(), refine_method: str = DEFAULT_REFINE_METHOD,
                 learned: bool = True, full_res: bool = True) -> None:
        if refine_method not in REFINE_METHODS:
            raise IFCNError(f"unknown refinement {refine_method!r}: choose one of {', '.join(REFINE_METHODS)}.")
        self.model = model
        self.refine_method = refine_method
        self.net_size = int(net_size) if net_size else None
        self.engine_name = engine  # "torch" (eager), "auto", "onnxruntime" or "openvino": models.engines
        self._engine: FeatureEngine | None = None
        #: milliseconds by stage of the last predict() / predict_work(): inputs (click maps), network
        #: (backbone; with f-BRS off also the head), brs (everything after the backbone with f-BRS on: its
        #: first head pass included), snap (edge snapping), refine (colour or GrabCut refinement), resize (to
        #: the image's size), full_res (the snap at the photo's resolution, after the resize), despeckle (with
        #: refinement, at the working size: `models.regions.despeckle`), total
        self.last_timings: dict[str, float] = {}
        self.zoom_in = zoom_in
        self.brs = brs
        self.snap = snap  # edge snapping of the network's probability (models.edge_snap); None: off
        #: with snapping on, the model's learned refiner (models.refiner) runs, when the model carries one
        self.learned = bool(learned)
        #: with snapping on, a photo larger than the working image gets its upscaled probability snapped once more
        #: onto its own edges (`edge_snap.full_res_settings`)
        self.full_res = bool(full_res)
        self._full_guide: GuideCache | None = None  # the photo's, for that pass (made at its first use)
        self.brs_evals = 0  # head evaluations f-BRS ran in the last network run (1: clicks respected)
        self.spec: ModelSpec | None = model.spec if model is not None else None
        self.max_size = int(max_size)
        self.checkpoint_path = checkpoint_path
        self.meta = dict(meta or {})
        self.device = torch.device("cpu")
        self._image: np.ndarray | None = None
        self._work: np.ndarray | None = None
        self._rgb_tensor: torch.Tensor | None = None
        self._net_rgb: torch.Tensor | None = None  # the working image at `net_size`, when that is smaller
        self._history: OrderedDict[tuple[Click, ...], np.ndarray] = OrderedDict()
        # zoom-in crop per click prefix, for the image: not capped like _history, because a prefix's crop
        # decides the next click's (kept at box IoU >= keep_iou), and a prediction recomputed after
        # _history dropped it must find the same crop; 4 ints per click sequence, cleared per image
        self._rois: dict[tuple[Click, ...], tuple[int, int, int, int] | None] = {}
        self._maps = DistanceMapCache()
        #: the last edge-snapped prediction: (working clicks, the network output it came from, result); the
        #: annotator's second stage (GrabCut after the preview) reuses it
        self._snapped: tuple[tuple[Click, ...], np.ndarray, np.ndarray] | None = None
        self._net: nn.Module | None = None
        self.to(device)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def load(cls, checkpoint: str | Path | None = None, device: str = "auto",
             max_size: int = DEFAULT_MAX_SIZE, zoom_in: ZoomIn | None = None,
             brs: BRS | None = BRS(), engine: str = "torch",
             net_size: int | None = DEFAULT_NET_SIZE, snap: EdgeSnap | None = EdgeSnap(),
             refine_method: str = DEFAULT_REFINE_METHOD, learned: bool = True,
             full_res: bool = True) -> "Predictor":
        """A predictor for `checkpoint` (None = shipped default model, 'grabcut' = classical); `engine` runs
        the backbone (see `models.engines`)."""
        if checkpoint is None:
            path = default_checkpoint()
            if not path.is_file():
                log.warning("no default model at %s: using the classical GrabCut fallback", path)
                return cls(None, device="cpu", max_size=max_size)
            checkpoint = path
        if str(checkpoint) == GRABCUT:
            return cls(None, device="cpu", max_size=max_size)
        loaded = load_checkpoint(checkpoint, map_location="cpu")
        return cls(loaded.model, device=device, max_size=max_size, checkpoint_path=Path(checkpoint),
                   meta=loaded.meta, zoom_in=zoom_in, brs=brs, engine=engine, net_size=net_size, snap=snap,
                   refine_method=refine_method, learned=learned, full_res=full_res)

    def to(self, device: str | torch.device) -> "Predictor":
        """Move the model to `device` ('auto', 'cpu', 'cuda', ...)."""
        dev = resolve_device(device)
        if dev.type == "cpu":
            limit_blas_threads()  # BLAS's spinning workers stalled PyTorch's next op by 25-95 ms (models.threads)
        if self.model is not None:
            self.model.to(dev).eval()
            # inference runs a copy with BatchNorm folded into the convolutions (same outputs, fewer passes)
            self._net = fold_batchnorm(self.model).requires_grad_(False)
            if dev.type == "cpu":
                self._net.to(memory_format=torch.channels_last)
        self.device = dev if self.model is not None else torch.device("cpu")
        self.set_engine(self.engine_name)
        if self._work is not None:
            self._prepare_rgb()
        return self

    def set_engine(self, name: str) -> None:
        """Run the backbone through engine `name` ("torch", "auto", ...: `models.engines`) from the next click
        on; on a GPU, and for the classical fallback, PyTorch runs whatever the name. The size of the current
        image starts compiling in the background at once."""
        self.engine_name = name
        # an engine runs the backbone on the CPU only; it is built from the folded network
        self._engine = make_engine(self._net, name) if self._net is not None and self.device.type == "cpu" \
            else None
        self._prewarm()

    def _prewarm(self) -> None:
        """Start compiling the engine for the zoomed crops' size (with zoom-in; once per engine, on a random input)
        and the working image's size (a centre click's input), so that the first clicks find them ready more
        often; waits only when the engine's `background` is off."""
        engine, rgb = self._engine, self._net_input  # read once: set_image may run on another thread
        if engine is None:
            return
        t = padded_size(self.zoom_in.target) if self.zoom_in is not None else 0
        zoom_shape = (1, self.spec.in_channels, t, t)
        if t and not (engine.ready(zoom_shape) or engine.compiling(zoom_shape)):
            # the zoomed crops' one size, the same for every image: from the start, not again per image
            z = torch.rand((3, t, t), generator=torch.Generator().manual_seed(0)) * 2 - 1
            engine.prepare(self._stack(z, [Click(t / 2, t / 2, True)], None, cached=False),
                           wait=not engine.background)
        if rgb is None:
            return
        h, w = rgb.shape[-2:]
        x = self._stack(rgb, [Click(w / 2, h / 2, True)], None, cached=False)  # maybe not the predictor's thread
        engine.prepare(x, wait=not engine.background)

    # -- description --------------------------------------------------------------------------
    @property
    def is_classical(self) -> bool:
        """True for the GrabCut-from-clicks fallback (no network)."""
        return self.model is None

    @property
    def uses_refiner(self) -> bool:
        """True when the model's learned refiner (`models.refiner`) runs: snapping on, `learned` on, and the model
        carries a refiner. It refines the network's or the snapped probability at the snapping stage, or (input
        "colour") the colour-refined one after colour refinement."""
        return self.snap is not None and self.learned and self.model is not None \
            and getattr(self.model, "refiner", None) is not None

    @property
    def _refiner_input(self) -> str | None:
        return self.spec.refiner.get("input", "network") if self.uses_refiner else None

    @property
    def name(self) -> str:
        """What the user is told is running."""
        if self.model is None:
            return "GrabCut from clicks (classical fallback, no network)"
        stem = self.checkpoint_path.name if self.checkpoint_path else "in-memory model"
        return f"{self.spec.name} ({stem})"

    def info(self) -> dict[str, Any]:
        """Backbone, stride, checkpoint, device and stored metrics, for menus and `ifcn info`."""
        d: dict[str, Any] = {"name": self.name, "classical": self.is_classical,
                             "device": str(self.device), "max_size": self.max_size, "net_size": self.net_size,
                             "zoom_in": self.zoom_in is not None and not self.is_classical,
                             "brs": self.brs is not None and not self.is_classical,
                             "snap": self.snap is not None and not self.is_classical,
                             "full_res": self.full_res and self.snap is not None and not self.is_classical,
                             "learned_refiner": self.uses_refiner,
                             "refine_method": None if self.is_classical else self.refine_method,
                             "engine": self._engine.describe() if self._engine is not None else "torch",
                             "checkpoint": str(self.checkpoint_path) if self.checkpoint_path else None}
        if self.spec is not None:
            d.update(backbone=self.spec.backbone, stride=self.spec.stride, upsample=self.spec.upsample)
        for k in ("val_iou", "noc@85", "noc@90", "steps", "epochs", "data"):
            if k in self.meta:
                d[k] = self.meta[k]
        for k in ("noc@85", "noc@90"):  # `ifcn export --noc-refined`: the predictor as the annotator runs it
            if f"grabcut_{k}" in self.meta:  # (noc@85/@90 above: f-BRS alone, `ifcn export --noc`)
                d[f"annotator_{k}"] = self.meta[f"grabcut_{k}"]
        return d

    # -- inference ----------------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int] | None:
        """(height, width) of the current image, or None."""
        return None if self._image is None else self._image.shape[:2]

    def set_image(self, rgb: np.ndarray) -> None:
        """Use `rgb` (HxWx3 uint8) for the next predictions; large images are downscaled internally."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"set_image expects an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
        if rgb.shape[0] < 1 or rgb.shape[1] < 1:
            raise ValueError("set_image: the image is empty")
        self._image = rgb
        h, w = rgb.shape[:2]
        self._work = fit_longest(rgb, self.max_size)
        self._prepare_rgb()

    @property
    def two_stage_refine(self) -> bool:
        """True when refinement is slow enough (GrabCut) that the network's own prediction is worth painting
        first, as a preview; the refined one then follows at little extra cost (the network runs once). Colour
        refinement adds a few ms: its result is painted directly (a preview would only flicker)."""
        return self.model is not None and self.refine_method == "grabcut"

    def _prepare_rgb(self) -> None:
        self._history.clear()
        self._rois.clear()
        self._snapped = None
        self._guide = GuideCache(self._work)  # the photo's guided-filter statistics and colour bins
        self._full_guide = None
        self._maps = DistanceMapCache()  # the click maps of this image's recent click lists
        if self.model is None:
            self._rgb_tensor = None
            return
        # what snapping and colour refinement read of the photo alone, now rather than at its first click (~5 ms)
        if self.snap is not None:
            edge_snap.warm(self._guide, self.snap)
        if self.refine_method == "colour":
            colour_refine.warm(self._guide)
        # the network's whole-image input: the working image, or (net_size) its reduced copy, and then only that
        self._rgb_tensor = self._net_rgb = None
        if self.net_size is not None and max(self._work.shape[:2]) > self.net_size:
            small = fit_longest(self._work, self.net_size)
            self._net_rgb = torch.from_numpy(normalize_rgb(small, self.spec)).to(self.device)
        else:
            self._rgb_tensor = torch.from_numpy(normalize_rgb(self._work, self.spec)).to(self.device)
        self._prewarm()

    @property
    def _net_input(self) -> torch.Tensor | None:
        """The normalised image the network sees for a whole-image run."""
        return self._net_rgb if self._net_rgb is not None else self._rgb_tensor

    def _whole_image(self, wc: list[Click], prev: np.ndarray | None = None) -> np.ndarray:
        """The network's probability over the whole working image for working-image clicks `wc` (and the
        previous probability `prev`, working size, for a previous-mask model): run at `net_size` (and scaled
        back up) when that is smaller than the working image."""
        wh, ww = self._work.shape[:2]
        rgb = self._net_input
        nh, nw = rgb.shape[-2:]
        if (nh, nw) == (wh, ww):
            return self._forward(rgb, wc, wh, ww, prev)
        nc = scaled_clicks(wc, (wh, ww), (nh, nw))
        if prev is not None:
            prev = cv2.resize(prev, (nw, nh), interpolation=cv2.INTER_AREA)
        return cv2.resize(self._forward(rgb, nc, nh, nw, prev), (ww, wh), interpolation=cv2.INTER_LINEAR)

    def _work_clicks(self, clicks: Sequence[Click]) -> list[Click]:
        return scaled_clicks(clicks, self._image.shape[:2], self._work.shape[:2])

    def predict_work(self, clicks: Sequence[Click], refine: bool = False) -> np.ndarray:
        """Probability at the working (downscaled) resolution for clicks in original coordinates."""
        if self._image is None:
            raise IFCNError("Predictor: call set_image() before predict().")
        t0 = time.perf_counter()
        self.last_timings = {}
        prob = self._predict_work(clicks, refine)
        self.last_timings["total"] = (time.perf_counter() - t0) * 1000.0
        return prob

    def _add_time(self, key: str, t0: float) -> float:
        """Add the milliseconds since `t0` to `last_timings[key]`; returns now."""
        t1 = time.perf_counter()
        self.last_timings[key] = self.last_timings.get(key, 0.0) + (t1 - t0) * 1000.0
        return t1

    def _predict_work(self, clicks: Sequence[Click], refine: bool) -> np.ndarray:
        clicks = validate_clicks(clicks, *self._image.shape[:2])
        wh, ww = self._work.shape[:2]
        if not any(c.positive for c in clicks):
            return np.zeros((wh, ww), np.float32)
        wc = self._work_clicks(clicks)
        if self.model is None:
            return grabcut.grabcut_from_clicks(self._work, wc)
        net = self._network_prob(wc)
        if self.snap is None:
            prob = net.copy()  # the caller may scribble on it: the cache is not theirs
        else:
            key, last = tuple(wc), self._snapped
            if last is None or last[0] != key or last[1] is not net:  # not the network output snapped last
                t0 = time.perf_counter()
                if self._refiner_input in ("network", "snapped"):
                    src = net
                    if self.spec.refiner.get("input") == "snapped":  # it refines the guided filter's result
                        src = snap_to_edges(self._work, net, wc, self.snap, self._guide)
                    snapped = learned_refine(self._net.refiner, self._work, src, wc)  # channels-last copy on CPU
                else:
                    snapped = snap_to_edges(self._work, net, wc, self.snap, self._guide)
                last = self._snapped = (key, net, snapped)
                self._add_time("snap", t0)
            prob = last[2].copy()
        if refine:
            t0 = time.perf_counter()
            if self.refine_method == "grabcut":
                # an edge-snapped prediction needs fewer GrabCut iterations
                prob = grabcut.refine(self._work, prob, wc,
                                      iterations=grabcut.refine_iterations(self.snap is not None))
            else:
                prob = colour_refine.refine(self._work, prob, wc, cache=self._guide)
                if self._refiner_input == "colour":
                    prob = learned_refine(self._net.refiner, self._work, prob, wc)
            t0 = self._add_time("refine", t0)
            prob = despeckle(prob, wc)  # refinement ends with its specks gone (MODEL_CARD "Specks")
            self._add_time("despeckle", t0)
        return prob

    def forget(self, clicks: Iterable[Click] | None = None) -> None:
        """Drop the remembered network prediction of exactly these clicks (of all clicks with None), so
        that the next predict() of them runs the network again (benchmarks time fresh clicks with it)."""
        if clicks is None:
            self._history.clear()
            self._rois.clear()
        elif self._work is not None:
            self._history.pop(tuple(self._work_clicks(list(clicks))), None)

    def _stack(self, rgb: torch.Tensor, clicks: Sequence[Click], prev: np.ndarray | None,
               cached: bool = True) -> torch.Tensor:
        """The network's input (1, C, h, w), contiguous: the normalised image, the click maps (from the image's
        `DistanceMapCache` when `cached`: same values), and for a previous-mask model the previous probability
        (`models.inputs.extra_channels`; zero for None)."""
        h, w = rgb.shape[-2:]
        maps = self._maps.distance_maps(clicks, h, w, self.spec.clamp) if cached \
            else distance_maps(clicks, h, w, self.spec.clamp)
        extra = extra_channels(maps, self.spec, prev)
        return torch.cat([rgb, torch.from_numpy(extra).to(rgb.device)])[None]

    def _forward(self, rgb: torch.Tensor, clicks: Sequence[Click], h: int, w: int,
                 prev: np.ndarray | None = None) -> np.ndarray:
        """The network's probability (float32 h x w) for a normalised (3, h, w) image, its clicks and (a
        previous-mask model's) previous probability."""
        t0 = time.perf_counter()
        x = self._stack(rgb, clicks, prev)
        self._add_time("inputs", t0)
        if self.brs is None:
            with torch.inference_mode():
                return torch.sigmoid(self._net.head(self._features(x), (h, w)))[0, 0].float().cpu().numpy()
        t0 = time.perf_counter()
        with torch.no_grad():  # not inference_mode: f-BRS differentiates the head through these features
            feats = self._features(x)
        budget = self.brs.time_ratio * (time.perf_counter() - t0)  # f-BRS's time: a share of the forward's
        logits, self.brs_evals = refine_logits(self._net, feats, clicks, (h, w), self.brs, budget_s=budget)
        return torch.sigmoid(logits)[0, 0].float().cpu().numpy()

    def _features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """The backbone's features of the input `x` (through the engine once it is ready for x's size)."""
        t0 = time.perf_counter()
        engine = self._engine  # read once: the GUI thread may swap it (set_engine) while this runs
        feats = engine.features(x) if engine is not None else None
        if feats is None:  # eager PyTorch: faster in channels-last on the CPU (an engine takes x as it is)
            feats = self._net.features(x.contiguous(memory_format=torch.channels_last)
                                       if self.device.type == "cpu" else x)
        self._add_time("network", t0)
        return feats

    def _network_prob(self, wc: list[Click]) -> np.ndarray:
        """The network's probability at working resolution for working-image clicks (cached).

        With zoom-in, the crop for a click sequence comes from the prediction of the sequence without
        its last click, so the result depends on the click order only (not on what was asked before):
        missing predictions of earlier prefixes are computed first, oldest first."""
        if tuple(wc) in self._history:
            self._history.move_to_end(tuple(wc))
            return self._history[tuple(wc)]
        t0, start = time.perf_counter(), len(wc)
        if self.zoom_in is not None or self.spec.prev_mask:
            while start > 1 and tuple(wc[:start - 1]) not in self._history:
                start -= 1
        for k in range(start, len(wc) + 1):
            prefix = wc[:k]
            if any(c.positive for c in prefix):
                prob = self._predict_prefix(prefix)
            else:
                prob = np.zeros(self._work.shape[:2], np.float32)
            self._history[tuple(prefix)] = prob
            while len(self._history) > _HISTORY:
                self._history.popitem(last=False)
        # what the stage spent beyond the click maps and the backbone: f-BRS (or, without it, the head)
        spent = sum(self.last_timings.get(k, 0.0) for k in ("inputs", "network"))
        rest = (time.perf_counter() - t0) * 1000.0 - spent
        key = "brs" if self.brs is not None else "network"
        self.last_timings[key] = self.last_timings.get(key, 0.0) + max(0.0, rest)
        return prob

    def _predict_prefix(self, wc: list[Click]) -> np.ndarray:
        """One network run for `wc`: on the whole working image, or zoomed in on the object. A previous-mask
        model gets the prediction of `wc` without its last click (as `_network_prob` computed it)."""
        wh, ww = self._work.shape[:2]
        prev = self._history.get(tuple(wc[:-1])) if self.spec.prev_mask and len(wc) > 1 else None
        roi = self._zoom_roi(wc)
        if roi is None:
            return self._whole_image(wc, prev)
        x0, y0, x1, y1 = roi
        cw, ch = x1 - x0, y1 - y0
        r = self._net_scale()
        s = max(1.0 / r, self.zoom_in.target / max(cw, ch))  # never below the network's whole-image scale
        sw, sh = max(1, round(cw * s)), max(1, round(ch * s))
        # the enlarged crop is replicate-padded at its bottom and right to one size per image (the zoom-in
        # target's, or the network's whole-image input's when it is not enlarged), so an engine compiles few graphs
        ph, pw = (padded_size(self.zoom_in.target),) * 2 if s * r > 1.0 else tuple(self._net_input.shape[-2:])
        ph, pw = max(ph, sh), max(pw, sw)
        crop = cv2.copyMakeBorder(self._zoom_pixels(roi, sw, sh), 0, ph - sh, 0, pw - sw, cv2.BORDER_REPLICATE)
        inside = [c.mapped(sw / cw, sh / ch, x0, y0) for c in wc if x0 <= c.x < x1 and y0 <= c.y < y1]
        rgb = torch.from_numpy(normalize_rgb(crop, self.spec)).to(self.device)
        prev_crop = None if prev is None else cv2.copyMakeBorder(
            cv2.resize(prev[y0:y1, x0:x1], (sw, sh), interpolation=cv2.INTER_LINEAR), 0, ph - sh, 0, pw - sw,
            cv2.BORDER_REPLICATE)
        part = self._forward(rgb, inside, ph, pw, prev_crop)[:sh, :sw]
        if reaches_cut_edge(part > 0.5, x0 > 0, y0 > 0, x1 < ww, y1 < wh):
            # the object goes on past the crop (e.g. a click on a big region): a crop would cut the mask
            # with a straight line, so look at the whole image instead
            return self._whole_image(wc, prev)
        prob = np.zeros((wh, ww), np.float32)
        prob[y0:y1, x0:x1] = cv2.resize(part, (cw, ch), interpolation=cv2.INTER_AREA if s > 1.0 else cv2.INTER_LINEAR)
        return prob

    def _net_scale(self) -> float:
        """Working-image pixels per network pixel of a whole-image run: 1 unless `net_size` makes the network
        see the working image reduced. A zoomed crop is never reduced below that scale."""
        return self._work.shape[1] / self._net_input.shape[-1] if self._net_rgb is not None else 1.0

    def _zoom_pixels(self, roi: tuple[int, int, int, int], sw: int, sh: int) -> np.ndarray:
        """The zoom-in crop `roi` (working-image box) at `sw` x `sh` px, taken from the photo itself when the
        photo is larger than the working image: the network then sees the photo's own detail (RITM crops the
        photo too) instead of the working image enlarged, which on a photo twice the working size or more is
        a blur of what the user sees."""
        x0, y0, x1, y1 = roi
        (h, w), (wh, ww) = self._image.shape[:2], self._work.shape[:2]
        if (h, w) == (wh, ww):
            src = self._work[y0:y1, x0:x1]
        else:  # working pixel x covers the photo's [x * w / ww, (x + 1) * w / ww): to the nearest photo pixel
            fx, fy = w / ww, h / wh
            px0, py0 = min(w - 1, round(x0 * fx)), min(h - 1, round(y0 * fy))
            src = self._image[py0:max(py0 + 1, min(h, round(y1 * fy))), px0:max(px0 + 1, min(w, round(x1 * fx)))]
        shrink = src.shape[1] > sw or src.shape[0] > sh
        return cv2.resize(src, (sw, sh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def _zoom_roi(self, wc: list[Click]) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the zoom-in crop in the working image for `wc`, or None to run on all of it
        (`models.zoom`); remembered per click sequence, so that the next click can keep it."""
        if self.zoom_in is None:
            return None
        prev = self._history.get(tuple(wc[:-1])) if len(wc) > self.zoom_in.skip_clicks else None
        # its sizes are working-image pixels (the photo's, up to the working size) even when the network sees a
        # reduced copy: a small object of a large photo is then enlarged from the photo's own pixels
        roi = zoom_roi(self.zoom_in, prev, wc, self._work.shape[:2], self._rois.get(tuple(wc[:-1])))
        self._rois[tuple(wc)] = roi
        return roi

    def predict(self, clicks: Iterable[Click], refine: bool = False) -> np.ndarray:
        """Foreground probability (float32 HxW in [0, 1]) of the current image for these clicks."""
        t0 = time.perf_counter()
        clicks = list(clicks)
        prob = self.predict_work(clicks, refine=refine)
        t1 = time.perf_counter()
        h, w = self._image.shape[:2]
        key = "resize"
        if prob.shape != (h, w):
            prob = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
            if self.full_res and self.snap is not None and self.model is not None and any(c.positive for c in clicks):
                t1, key = self._add_time("resize", t1), "full_res"
                if self._full_guide is None:
                    self._full_guide = GuideCache(self._image)
                scale = max(h / self._work.shape[0], w / self._work.shape[1])
                # its coefficients are fitted at about the network's whole-image scale (512 px), as they were
                # when that was the working image's: at 1024 the pass cost twice as much on a 12-Mpx photo
                nh, nw = self._net_input.shape[-2:]
                prob = edge_snap.snap_full_res(self._image, prob, clicks, scale, self.snap, self._full_guide,
                                               fit_scale=max(h / nh, w / nw))
        prob = np.clip(prob, 0.0, 1.0, out=prob)
        self._add_time(key, t1)
        self.last_timings["total"] = (time.perf_counter() - t0) * 1000.0
        return prob
