"""Colour refinement: the network's probability corrected by colour models of the object and its surroundings,
the fast default refinement of the annotator (GrabCut, `models.grabcut`, is the other).

On a crop around the predicted object, two colour histograms are counted with the network's probability as soft
labels: the object's (each pixel weighted by p) and the background's (weighted by 1 - p). Their log-likelihood
ratio at each pixel's colour, times `alpha`, is added to the network's logit: a region whose colour belongs to
the object the network half-selected is pulled in, a background-coloured region it wrongly took is pushed out —
what GrabCut's colour models do, without its graph cut. A colour guided filter (`models.edge_snap`) with the
photo as the guide then puts the boundary on the photo's edges. As in GrabCut refinement, only the parts that
hold a positive click are kept, and a result cut by the crop's edge is retried on a widened crop (or dropped).

Chosen by measurement (resources/weights/MODEL_CARD.md, "Colour refinement"): on the held-out training photos
and on the GrabCut / Berkeley sets it needs no more clicks than 2 GrabCut iterations, at a few per cent of their
time. The settings were fixed on held-out training photos, not on the benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from models.clicks import Click
from models.edge_snap import GuideCache, guided_filter
from models.regions import clicked_parts, crop_box, crop_clicks, honour_clicks, touches_cut_edge

#: What a refinement can be (`models.predictor.Predictor.refine_method`) and how tables and menus name it.
REFINE_METHODS = ("colour", "grabcut")
REFINE_LABELS = {"colour": "colour refinement", "grabcut": "GrabCut"}

#: Pseudo-count added to each normalised histogram bin: a colour seen on neither side has a ratio of 0.
PSEUDO = 1e-6
#: Probabilities are clipped this far from 0 and 1 before taking the logit.
CLIP = 1e-4


@dataclass(frozen=True)
class ColourRefine:
    """Colour-refinement settings: histogram bins per RGB channel; the weight of the colour log-likelihood
    ratio against the network's logit; the guided filter's radius and regulariser; the crop margins tried in
    turn (fractions of the object's box); the click discs' radius (kept on their side). The discs are smaller
    than f-BRS's (5): a corrective click in a thin missed sliver of a small object must not paint a disc of the
    other side across its boundary (MODEL_CARD, "Click discs of the refinement")."""

    bins: int = 24
    alpha: float = 1.5
    radius: int = 4
    eps: float = 1e-3
    margins: tuple[float, ...] = (0.25, 1.0)
    click_radius: int = 3

    def __post_init__(self) -> None:
        if not (2 <= self.bins <= 64) or self.alpha < 0 or self.radius < 0 or self.eps <= 0 \
                or not self.margins or min(self.margins) < 0 or self.click_radius < 0:
            raise ValueError(f"invalid colour-refinement settings: {self}")


def colour_index(rgb: np.ndarray, bins: int) -> np.ndarray:
    """Each pixel's histogram bin (int64 HxW) on a `bins`³ grid of RGB colours."""
    q = rgb.astype(np.int64) * bins // 256
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


def _photo_index(cache: GuideCache, bins: int) -> np.ndarray:
    """The photo's `colour_index`, computed once per photo by its cache."""
    return cache.derived(("colour_index", bins), lambda im: colour_index(im, bins))


def warm(cache: GuideCache, settings: ColourRefine = ColourRefine()) -> None:
    """Compute now what `refine` with `settings` will take from `cache` (the photo's colour bins and guide
    statistics), so that the photo's first refined click does not pay for them."""
    _photo_index(cache, settings.bins)
    if settings.radius > 0:
        cache.stats(settings.radius, settings.eps)


def colour_log_ratio(rgb: np.ndarray, prob: np.ndarray, bins: int, index: np.ndarray | None = None) -> np.ndarray:
    """log P(colour | object) - log P(colour | background) at each pixel (float32 HxW), both histograms counted
    on `rgb` with `prob` as the soft object label (1 - prob for the background); `index`: `colour_index(rgb,
    bins)` when the caller has it."""
    idx = (colour_index(rgb, bins) if index is None else index).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    n = bins ** 3
    fg = np.bincount(idx, weights=p, minlength=n)
    bg = np.bincount(idx, weights=1.0 - p, minlength=n)
    ratio = np.log(fg / max(fg.sum(), 1e-12) + PSEUDO) - np.log(bg / max(bg.sum(), 1e-12) + PSEUDO)
    return ratio[idx].reshape(prob.shape).astype(np.float32)


def fuse(rgb: np.ndarray, prob: np.ndarray, settings: ColourRefine, cache: GuideCache | None = None,
         box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The crop's refined probability: sigmoid(logit(prob) + alpha * colour log ratio), guided-filtered.
    With `cache` (of the whole photo) and `box` (the crop's (y0, y1, x0, x1) in it), the photo's colour bins
    come from the cache instead of being computed on the crop (the same numbers)."""
    p = np.clip(np.asarray(prob, dtype=np.float32), CLIP, 1.0 - CLIP)
    index = None
    if cache is not None and box is not None:
        y0, y1, x0, x1 = box
        index = _photo_index(cache, settings.bins)[y0:y1, x0:x1]
    z = np.log(p / (1.0 - p)) + np.float32(settings.alpha) * colour_log_ratio(rgb, p, settings.bins, index)
    out = 1.0 / (1.0 + np.exp(-z))
    if settings.radius > 0:
        if cache is not None and box is not None:
            # the photo's own statistics (computed once per photo), cropped: ~3 ms less than the crop's, and the
            # same except within 2 * radius px of a crop edge inside the photo, where the crop's own are reflected
            out = cache.stats(settings.radius, settings.eps, box).filter(out)
        else:
            out = guided_filter(rgb, out, settings.radius, settings.eps)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def refine(rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click],
           settings: ColourRefine = ColourRefine(), cache: GuideCache | None = None) -> np.ndarray:
    """Colour refinement of `prob` (float HxW) on `rgb` (HxWx3 uint8); float32 HxW in [0, 1].

    Inside the crop around the predicted object the result is the fused probability with every part at 0.5 that
    holds no positive click set to 0 (never a region the user did not click); outside the crop `prob` is kept.
    When the kept object comes within 2 px of a cut edge of the crop, the next (wider) margin is tried around what
    it grew; when the widest is still cut, or no positive click lies in the object, `prob` stays unrefined. The
    click discs are set to their side at the end. `cache`: the predictor's `GuideCache` of `rgb` (the photo's
    colour bins computed once, see `fuse`)."""
    prob = np.asarray(prob, dtype=np.float32)
    out = prob.copy()
    fg = prob >= 0.5
    grown = fg
    for margin in settings.margins:
        box = crop_box(grown, clicks, margin_frac=margin)
        y0, y1, x0, x1 = box
        p = fuse(rgb[y0:y1, x0:x1], prob[y0:y1, x0:x1], settings, cache, box)
        seg = p >= 0.5
        obj = clicked_parts(seg, crop_clicks(clicks, box))
        if not obj.any():
            break
        if not touches_cut_edge(obj, box, fg.shape, 2):
            p[seg & ~obj] = 0.0
            out[y0:y1, x0:x1] = p
            break
        grown = fg.copy()
        grown[y0:y1, x0:x1] |= obj
    return honour_clicks(out, clicks, settings.click_radius)
