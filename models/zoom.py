"""Zoom-in (Sofiiuk et al., RITM 2022, §3.3): where the network looks from the second click on.

Qt- and torch-free: `ZoomIn` holds the settings, `zoom_roi` picks the crop of the working image for a click
sequence from the prediction of the sequence without its last click (so the crop, like the mask, is a function
of the clicks only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from models.clicks import Click
from models.metrics import box_iou, object_box

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ZoomIn:
    """Zoom-in (Sofiiuk et al., RITM 2022, §3.3): from click `skip_clicks + 1` on, the network runs on a
    square crop around the object — the previous prediction and the positive clicks, its box's longer
    side grown by `expansion` and at least `min_crop` px, moved inside the image — upscaled to `target` px
    (never reduced below the network's whole-image view, `Predictor.net_size`). The sizes are working-image
    pixels; the crop's pixels come from the photo itself (`Predictor._zoom_pixels`). Square, so that the network
    always sees the same input size (an inference engine compiles one graph per size). Small objects get the
    network's full resolution; the prediction outside the crop is background. The defaults are RITM's (target
    400, crop at least 200 px, expansion 1.4, crop kept at box IoU 0.5), chosen over the earlier 320 / 40 px / a
    new crop every click on the held-out training photos (MODEL_CARD, "Zoom-in on by default")."""

    target: int = 400
    expansion: float = 1.4
    min_crop: int = 200
    skip_clicks: int = 1
    #: keep the previous click's crop while the new one overlaps it by at least this IoU and it holds every
    #: positive click (RITM's recompute threshold); 0 = a new crop for every click
    keep_iou: float = 0.5

    def __post_init__(self) -> None:
        if self.target < 16 or self.min_crop < 8 or self.expansion < 1.0 or self.skip_clicks < 0 \
                or not 0.0 <= self.keep_iou <= 1.0:
            raise ValueError(f"invalid zoom-in settings: {self}")


def zoom_roi(z: ZoomIn, prev: np.ndarray | None, clicks: Sequence[Click], shape: tuple[int, int],
             kept: Box | None = None) -> Box | None:
    """(x0, y0, x1, y1), ends exclusive, of the crop for `clicks` given `prev`, the probability of the clicks
    without the last one (None: not zoomed yet), on a working image of `shape` (h, w); None = the whole image.
    `kept` is the previous click's crop: it stays while the new box overlaps it by `z.keep_iou` and holds
    every positive click."""
    roi = _fresh_roi(z, prev, clicks, shape)
    if roi is not None and kept is not None and z.keep_iou > 0 and box_iou(roi, kept) >= z.keep_iou \
            and all(kept[0] <= c.x < kept[2] and kept[1] <= c.y < kept[3] for c in clicks if c.positive):
        return kept
    return roi


def _span(centre: float, side: float, extent: int) -> tuple[int, int]:
    """[a, b) of length `side` around `centre`, moved (not cut) to lie within [0, extent) where it fits."""
    n = min(extent, max(1, int(round(side))))
    a = min(max(0, int(round(centre - n / 2))), extent - n)
    return a, a + n


def _fresh_roi(z: ZoomIn, prev: np.ndarray | None, clicks: Sequence[Click], shape: tuple[int, int]) -> Box | None:
    """The crop from `prev` and the positive clicks alone."""
    if prev is None or len(clicks) <= z.skip_clicks:
        return None
    selected = prev > 0.5
    if not selected.any():  # nothing selected yet (e.g. a negative first click): look at everything
        return None
    wh, ww = shape
    x_lo, y_lo, x_hi, y_hi = object_box(selected, clicks)
    side = max(z.min_crop, (x_hi - x_lo) * z.expansion, (y_hi - y_lo) * z.expansion)
    x0, x1 = _span((x_lo + x_hi) / 2, side, ww)
    y0, y1 = _span((y_lo + y_hi) / 2, side, wh)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    if (x1 - x0) * (y1 - y0) >= 0.8 * ww * wh and max(x1 - x0, y1 - y0) >= z.target:
        return None  # nearly the whole image, and it would not be enlarged: no gain
    return x0, y0, x1, y1
