"""Edge snapping: the network's probability filtered with the photo as the guide (He et al., "Guided Image
Filtering", ECCV 2010 / TPAMI 2013), so the mask's boundary follows the photo's edges.

The FCN-8s head predicts at 1/8 of the input and upsamples bilinearly: its boundary is a smooth curve up to
8 px away from the object's edge. The colour guided filter fits, in every (2r+1)² window, the probability as a
linear function of the pixel's colour: where the window straddles a colour edge, the transition moves onto the
edge; where the probability is flat it is returned unchanged. It is local (no region grows past what the network
selected by more than about r px) and linear-time in the pixels; only the bounding box of the probability's
transition band (widened by the filter's reach) is computed. By default the coefficients are fitted at half the
resolution (He & Sun, "Fast Guided Filter", 2015; `EdgeSnap.subsample`) and applied to the full-resolution photo.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import cv2
import numpy as np

from models.clicks import Click
from models.regions import honour_clicks

#: Click discs kept on their side by the full-resolution pass (`snap_full_res`), in photo pixels.
FULL_RES_CLICK_RADIUS = 3

#: Pixels whose probability is within this of 0 or 1 count as flat when the box to filter is found: the
#: filter returns a flat probability unchanged (up to this much), so only the transition band is computed.
FLAT = 0.01


@dataclass(frozen=True)
class EdgeSnap:
    """Guided-filter settings: window radius in working-image pixels, the regulariser `eps` (on colours
    scaled to [0, 1]: edges whose colour variance is well below eps are smoothed over, not followed), and how
    many times the filter runs (each pass moves a boundary further onto the edge its windows reach)."""

    radius: int = 8
    eps: float = 1e-3
    passes: int = 2
    click_radius: int = 5  # click discs stay on their side afterwards (the refinement's disc radius)
    #: 1: the guided filter at full resolution; s > 1: He & Sun's fast guided filter (arXiv 1505.00996): the
    #: linear coefficients are fitted on the photo and probability downscaled by s (windows of radius // s) and
    #: scaled back up, the output still formed with the full-resolution photo, so edges stay sharp. 2 snaps a
    #: click in 2.8 instead of 6.7 ms at 481x321 and needed as many clicks on the held-out photos and the
    #: benchmarks (resources/weights/MODEL_CARD.md, "Latency on real correction sequences")
    subsample: int = 2

    def __post_init__(self) -> None:
        if self.radius < 1 or self.eps <= 0 or self.passes < 1 or self.click_radius < 0 \
                or not 1 <= self.subsample <= self.radius:
            raise ValueError(f"invalid edge-snapping settings: {self}")


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the (2r+1)² window (reflected border)."""
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


@dataclass(frozen=True)
class GuideStats:
    """What the colour guided filter needs of its guide alone (the window means of its colours and the cofactors
    of their regularised 3x3 covariance): computed once, then reused for every source filtered with that guide
    (`GuideStats.filter`): several passes, or several probabilities, cost only their own box filters."""

    radius: int
    channels: tuple[np.ndarray, np.ndarray, np.ndarray]
    means: tuple[np.ndarray, np.ndarray, np.ndarray]
    cofactors: tuple[np.ndarray, ...]  # c11, c12, c13, c22, c23, c33
    inv_det: np.ndarray

    @classmethod
    def of(cls, guide: np.ndarray, radius: int, eps: float) -> "GuideStats":
        """The statistics of `guide` (HxWx3, uint8 or float in [0, 1]) for windows of `radius`, regulariser `eps`."""
        img = guide.astype(np.float32)
        if guide.dtype == np.uint8:
            img *= 1.0 / 255.0
        r = int(radius)
        ch = tuple(np.ascontiguousarray(img[..., k]) for k in range(3))
        m = tuple(_box(c, r) for c in ch)

        def var(i: int, j: int) -> np.ndarray:
            return _box(ch[i] * ch[j], r) - m[i] * m[j]

        a11, a12, a13 = var(0, 0) + eps, var(0, 1), var(0, 2)
        a22, a23, a33 = var(1, 1) + eps, var(1, 2), var(2, 2) + eps
        # inverse of the symmetric [[a11 a12 a13] [a12 a22 a23] [a13 a23 a33]] by cofactors
        c11, c12, c13 = a22 * a33 - a23 * a23, a13 * a23 - a12 * a33, a12 * a23 - a13 * a22
        c22, c23, c33 = a11 * a33 - a13 * a13, a12 * a13 - a11 * a23, a11 * a22 - a12 * a12
        inv_det = 1.0 / (a11 * c11 + a12 * c12 + a13 * c13)
        return cls(r, ch, m, (c11, c12, c13, c22, c23, c33), inv_det)

    def crop(self, y0: int, y1: int, x0: int, x1: int) -> "GuideStats":
        """The statistics of the rows y0:y1, columns x0:x1 (views): each window still sees the whole guide,
        so near the crop's edges they are the photo's own, not a reflection of the crop."""
        cut = (slice(y0, y1), slice(x0, x1))
        return GuideStats(self.radius, tuple(c[cut] for c in self.channels), tuple(m[cut] for m in self.means),
                          tuple(c[cut] for c in self.cofactors), self.inv_det[cut])

    def filter(self, src: np.ndarray) -> np.ndarray:
        """`src` (float HxW, the guide's size) guided-filtered; float32 HxW."""
        ar, ag, ab, b = self.coefficients(src)
        ch = self.channels
        return ar * ch[0] + ag * ch[1] + ab * ch[2] + b

    def coefficients(self, src: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The window means of the linear coefficients (a_r, a_g, a_b, b) that the guided filter of `src` applies
        to each pixel's colour: filter(src) = a_r * R + a_g * G + a_b * B + b."""
        r, ch, m = self.radius, self.channels, self.means
        c11, c12, c13, c22, c23, c33 = self.cofactors
        inv_det = self.inv_det
        p = np.ascontiguousarray(src, dtype=np.float32)
        mp = _box(p, r)
        cov = [_box(c * p, r) - mc * mp for c, mc in zip(ch, m)]
        ar = (c11 * cov[0] + c12 * cov[1] + c13 * cov[2]) * inv_det
        ag = (c12 * cov[0] + c22 * cov[1] + c23 * cov[2]) * inv_det
        ab = (c13 * cov[0] + c23 * cov[1] + c33 * cov[2]) * inv_det
        b = mp - ar * m[0] - ag * m[1] - ab * m[2]
        return _box(ar, r), _box(ag, r), _box(ab, r), _box(b, r)


class GuideCache:
    """One photo's guide statistics, computed on the whole photo the first time a (radius, eps) is asked for
    and then cropped for every later call (`GuideStats.crop`): the predictor keeps one per image, so a click's
    edge snapping and colour refinement filter only their probabilities (the photo's half of the guided filter,
    the costlier one, is not recomputed for every click); other per-photo arrays by key (`derived`)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb
        self._stats: dict[tuple[int, float, int], GuideStats] = {}
        self._derived: dict[object, np.ndarray] = {}

    def stats(self, radius: int, eps: float, box: tuple[int, int, int, int] | None = None,
              subsample: int = 1) -> GuideStats:
        """The guide statistics for (radius, eps), of the rows and columns of `box` = (y0, y1, x0, x1); with
        `subsample` s > 1, those of the photo downscaled by s (`low_size`; `box` then in its pixels)."""
        key = (int(radius), float(eps), int(subsample))
        if key not in self._stats:
            guide = self.rgb if subsample == 1 else cv2.resize(
                self.rgb, low_size(self.rgb.shape[:2], subsample)[::-1], interpolation=cv2.INTER_AREA)
            self._stats[key] = GuideStats.of(guide, radius, eps)
        return self._stats[key] if box is None else self._stats[key].crop(*box)

    def channels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The photo's colour planes as float32 in [0, 1] (computed once)."""
        planes = self.derived("channels", lambda im: np.moveaxis(im.astype(np.float32) * (1.0 / 255.0), 2, 0))
        return planes[0], planes[1], planes[2]

    def derived(self, key: object, make: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`make(photo)`, computed the first time `key` is asked for (e.g. the photo's colour-histogram bins)."""
        if key not in self._derived:
            self._derived[key] = make(self.rgb)
        return self._derived[key]


def low_size(hw: tuple[int, int], subsample: int) -> tuple[int, int]:
    """(h, w) of an image of size `hw` downscaled by `subsample` (rounded up)."""
    return -(-int(hw[0]) // subsample), -(-int(hw[1]) // subsample)


def low_coefficients(low: GuideStats, src: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fast guided filter's coefficients (a_r, a_g, a_b, b) of `src` (float HxW): `src` downscaled (area) to
    `low`'s size and fitted with `low`, the downscaled guide's statistics; at that low resolution."""
    h, w = low.channels[0].shape
    small = cv2.resize(np.asarray(src, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return low.coefficients(small)


def aligned_box(box: tuple[int, int, int, int], subsample: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """`box` = (y0, y1, x0, x1) widened to multiples of `subsample` (clipped to the image's `shape`), so that it
    maps onto whole pixels of the photo downscaled by it."""
    s, (h, w) = subsample, shape[:2]
    y0, y1, x0, x1 = box
    return y0 // s * s, min(h, -(-y1 // s) * s), x0 // s * s, min(w, -(-x1 // s) * s)


def fast_guided_pass(low: GuideStats, channels: Sequence[np.ndarray], src: np.ndarray) -> np.ndarray:
    """One pass of the fast guided filter (He & Sun 2015): the coefficients of `src` (float HxW) fitted at
    `low`'s size (`low_coefficients`), scaled back up (bilinear) and applied to the full-resolution guide
    `channels` (3 float HxW planes in [0, 1]); float32 HxW."""
    big_h, big_w = src.shape
    ar, ag, ab, b = (cv2.resize(c, (big_w, big_h), interpolation=cv2.INTER_LINEAR) for c in low_coefficients(low, src))
    out = ar * channels[0]
    out += ag * channels[1]
    out += ab * channels[2]
    out += b
    return out


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Colour guided filter of `src` (float HxW) with `guide` (HxWx3, uint8 or float in [0, 1]); float32 HxW.

    q = mean(a)·I + mean(b), where (a, b) in each window solve the ridge regression of src on the guide's
    colours with regulariser eps (He et al. 2013, eq. 19-21). The 3x3 covariance is inverted in closed form."""
    return GuideStats.of(guide, radius, eps).filter(src)


def transition_box(prob: np.ndarray, reach: int) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the pixels with FLAT < prob < 1 - FLAT, widened by `reach`; None when there are none."""
    band = (prob > FLAT) & (prob < 1.0 - FLAT)
    rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    if rows.size == 0:
        return None
    h, w = prob.shape
    return (max(0, int(rows[0]) - reach), min(h, int(rows[-1]) + 1 + reach),
            max(0, int(cols[0]) - reach), min(w, int(cols[-1]) + 1 + reach))


def _low_stats(cache: GuideCache, settings: EdgeSnap,
               box: tuple[int, int, int, int] | None = None) -> GuideStats:
    """The fast filter's statistics: of the photo downscaled by `settings.subsample`, windows of radius // s, of
    the rows and columns of `box` (full-resolution, aligned to s) or all of them."""
    s = settings.subsample
    low_box = None if box is None else (box[0] // s, -(-box[1] // s), box[2] // s, -(-box[3] // s))
    return cache.stats(max(1, settings.radius // s), settings.eps, low_box, subsample=s)


def warm(cache: GuideCache, settings: EdgeSnap = EdgeSnap()) -> None:
    """Compute now what `snap` with `settings` will take from `cache` (the photo's statistics), so that the
    photo's first click does not pay for them (the predictor calls it when an image is set)."""
    if settings.subsample == 1:
        cache.stats(settings.radius, settings.eps)
    else:
        _low_stats(cache, settings)
        cache.channels()


def snap(rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click], settings: EdgeSnap = EdgeSnap(),
         cache: GuideCache | None = None) -> np.ndarray:
    """`prob` (float HxW in [0, 1]) guided-filtered with `rgb` (HxWx3 uint8) as the guide, `settings.passes`
    times; float32 HxW in [0, 1].

    Only the bounding box of the transition band, widened by the filter's reach (twice the radius per pass), is
    filtered; outside it the probability is flat and kept. Click discs (`settings.click_radius`) are set back to
    their side afterwards, as the refinement does: a click is always honoured. With `cache` (the GuideCache of
    `rgb`), the guide's statistics come from the whole photo, computed once per photo. With
    `settings.subsample` > 1 the fast guided filter runs (`fast_guided_pass`), on a box aligned to it."""
    out = np.array(prob, dtype=np.float32, copy=True)
    box = transition_box(out, (2 * settings.radius + 1) * settings.passes)
    if box is not None:
        s = settings.subsample
        if s > 1:
            box = aligned_box(box, s, out.shape)
        y0, y1, x0, x1 = box
        q = out[y0:y1, x0:x1]
        if s == 1:
            stats = GuideStats.of(rgb[y0:y1, x0:x1], settings.radius, settings.eps) if cache is None \
                else cache.stats(settings.radius, settings.eps, box)
            for _ in range(settings.passes):  # the guide's statistics are the same for every pass
                q = np.clip(stats.filter(q), 0.0, 1.0)
        else:
            cache = cache if cache is not None else GuideCache(rgb)
            low = _low_stats(cache, settings, box)
            planes = tuple(c[y0:y1, x0:x1] for c in cache.channels())
            for _ in range(settings.passes):
                q = np.clip(fast_guided_pass(low, planes, q), 0.0, 1.0)
        out[y0:y1, x0:x1] = q
    return honour_clicks(out, clicks, settings.click_radius)


def full_res_settings(scale: float, base: EdgeSnap = EdgeSnap(), fit_scale: float | None = None) -> EdgeSnap:
    """The settings of `snap_full_res` for a probability upscaled by `scale` (> 1) from the working image: one
    pass, windows of half `base`'s radius in working pixels (about radius / 2 * scale photo pixels), coefficients
    fitted with the photo reduced by `fit_scale` (subsample round(fit_scale); default `scale`: at about the working
    resolution); clicks keep `FULL_RES_CLICK_RADIUS` px discs."""
    s = max(1, int(round(fit_scale if fit_scale is not None else scale)))
    return replace(base, radius=max(s, int(round(base.radius / 2 * scale))), passes=1, subsample=s,
                   click_radius=FULL_RES_CLICK_RADIUS)


def upsampling_pass(low: GuideStats, rgb: np.ndarray, src: np.ndarray) -> np.ndarray:
    """One fast guided-filter pass (`fast_guided_pass`: the same coefficients, scaled up bilinearly) applied to
    the uint8 photo (crop) `rgb` itself, channel by channel, without a float copy of it; float32 HxW."""
    big_h, big_w = src.shape
    ar, ag, ab, b = low_coefficients(low, src)
    out = cv2.resize(b, (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    for a, plane in zip((ar, ag, ab), cv2.split(rgb)):
        up = cv2.resize(a * np.float32(1.0 / 255.0), (big_w, big_h), interpolation=cv2.INTER_LINEAR)
        up *= plane
        out += up
    return out


def snap_full_res(rgb: np.ndarray, prob: np.ndarray, clicks: Sequence[Click], scale: float,
                  base: EdgeSnap = EdgeSnap(), cache: GuideCache | None = None,
                  fit_scale: float | None = None) -> np.ndarray:
    """`prob`, a working-resolution probability upscaled by `scale` (> 1) to the photo `rgb`, put on the photo's
    own edges (the predictor's last step for a photo larger than its working image): one pass of
    `full_res_settings`, its coefficients fitted at about the working resolution and applied with the photo's own
    pixels (He & Sun's guided upsampling), so the boundary lands on edges that the working image has lost; only
    the bounding box of the transition band is computed (`upsampling_pass`).
    Chosen on the held-out photos worked at a smaller size (resources/weights/MODEL_CARD.md, "Masks at the
    photo's resolution"). `cache`: the GuideCache of `rgb` (its downscaled statistics, computed once);
    `fit_scale`: see `full_res_settings`."""
    settings = full_res_settings(scale, base, fit_scale)
    out = np.array(prob, dtype=np.float32, copy=True)
    s = settings.subsample
    box = transition_box(out, 2 * settings.radius + s)
    if box is not None:
        y0, y1, x0, x1 = aligned_box(box, s, out.shape)
        low = _low_stats(cache if cache is not None else GuideCache(rgb), settings, (y0, y1, x0, x1))
        q = upsampling_pass(low, rgb[y0:y1, x0:x1], out[y0:y1, x0:x1])
        out[y0:y1, x0:x1] = np.clip(q, 0.0, 1.0)
    return honour_clicks(out, clicks, settings.click_radius)
