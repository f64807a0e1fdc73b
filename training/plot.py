"""Line plots drawn with OpenCV (no matplotlib): mIoU against the number of clicks."""
from __future__ import annotations

import math
import os
from typing import Mapping, Sequence

import cv2
import numpy as np

from models.fileio import atomic_write_bytes

#: Line colours (BGR), a colour-blind-friendly cycle (Okabe-Ito).
COLORS = [(178, 114, 0), (0, 94, 213), (115, 158, 0), (167, 121, 204), (233, 180, 86),
          (66, 228, 240), (0, 0, 0)]
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _nice_step(span: float, target_ticks: int) -> float:
    """A 1/2/5×10^k tick step giving about `target_ticks` ticks over `span`."""
    raw = span / max(1, target_ticks)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _text(img: np.ndarray, s: str, org: tuple[int, int], scale: float = 0.45,
          color: tuple[int, int, int] = (40, 40, 40), align: str = "left") -> None:
    (tw, th), _ = cv2.getTextSize(s, FONT, scale, 1)
    x, y = org
    if align == "center":
        x -= tw // 2
    elif align == "right":
        x -= tw
    cv2.putText(img, s, (int(x), int(y + th // 2)), FONT, scale, color, 1, cv2.LINE_AA)


def render_line_plot(series: Mapping[str, Sequence[float]], *, title: str = "",
                     xlabel: str = "clicks", ylabel: str = "mIoU",
                     ylim: tuple[float, float] = (0.0, 1.0), hlines: Sequence[float] = (),
                     size: tuple[int, int] = (720, 480)) -> np.ndarray:
    """Draw one line per series (x = 1..N) with axes, ticks, grid and legend; BGR uint8 image."""
    width, height = size
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 40 if title else 20, 55
    x0, x1, y0, y1 = left, width - right, top, height - bottom  # plot area (y0 top)
    n = max((len(v) for v in series.values()), default=1)
    n = max(n, 2)
    xmin, xmax = 1.0, float(n)
    ymin, ymax = ylim

    def px(x: float) -> int:
        return int(round(x0 + (x - xmin) / (xmax - xmin) * (x1 - x0)))

    def py(y: float) -> int:
        y = min(max(y, ymin), ymax)
        return int(round(y1 - (y - ymin) / (ymax - ymin) * (y1 - y0)))

    # grid and ticks
    ystep = _nice_step(ymax - ymin, 5)
    y = math.ceil(ymin / ystep) * ystep
    while y <= ymax + 1e-9:
        cv2.line(img, (x0, py(y)), (x1, py(y)), (230, 230, 230), 1)
        cv2.line(img, (x0 - 5, py(y)), (x0, py(y)), (0, 0, 0), 1)
        _text(img, f"{y:.2f}".rstrip("0").rstrip(".") if ystep < 1 else f"{y:g}",
              (x0 - 8, py(y)), align="right")
        y += ystep
    xstep = max(1, int(_nice_step(xmax - xmin, 10)))
    for xt in sorted({1, *range(xstep, n + 1, xstep)}):
        cv2.line(img, (px(xt), y0), (px(xt), y1), (230, 230, 230), 1)
        cv2.line(img, (px(xt), y1), (px(xt), y1 + 5), (0, 0, 0), 1)
        _text(img, str(xt), (px(xt), y1 + 16), align="center")
    for h in hlines:
        if ymin <= h <= ymax:
            for xs in range(x0, x1, 12):  # dashed reference line
                cv2.line(img, (xs, py(h)), (min(xs + 6, x1), py(h)), (150, 150, 150), 1)
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)

    # labels
    if title:
        _text(img, title, (width // 2, 18), scale=0.55, align="center", color=(0, 0, 0))
    _text(img, xlabel, ((x0 + x1) // 2, height - 14), scale=0.5, align="center")
    (tw, th), _ = cv2.getTextSize(ylabel, FONT, 0.5, 1)
    lab = np.full((th + 8, tw + 4, 3), 255, np.uint8)
    cv2.putText(lab, ylabel, (2, th + 2), FONT, 0.5, (40, 40, 40), 1, cv2.LINE_AA)
    lab = cv2.rotate(lab, cv2.ROTATE_90_COUNTERCLOCKWISE)
    ly = max(0, (y0 + y1) // 2 - lab.shape[0] // 2)
    img[ly:ly + lab.shape[0], 8:8 + lab.shape[1]] = lab[: height - ly]

    # lines
    drawn: list[tuple[int, int]] = []
    for i, (name, values) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        pts = [(px(k + 1), py(float(v))) for k, v in enumerate(values)
               if v is not None and math.isfinite(float(v))]
        if len(pts) >= 2:
            cv2.polylines(img, [np.array(pts, np.int32)], False, color, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 3, color, -1, cv2.LINE_AA)
        for a, b in zip(pts, pts[1:] or pts):  # sample the segments for legend placement
            drawn.extend((int(a[0] + (b[0] - a[0]) * t / 8), int(a[1] + (b[1] - a[1]) * t / 8))
                         for t in range(9))

    # legend: the inside corner that hides the fewest line points
    if series:
        names = list(series)
        tws = [cv2.getTextSize(s, FONT, 0.45, 1)[0][0] for s in names]
        bw, bh = max(tws) + 44, 20 * len(names) + 10
        corners = [(x1 - bw - 10, y1 - bh - 10), (x1 - bw - 10, y0 + 10), (x0 + 10, y1 - bh - 10),
                   (x0 + 10, y0 + 10)]
        pts_arr = np.array(drawn or [(-1, -1)])

        def covered(c: tuple[int, int]) -> int:
            inside = ((pts_arr[:, 0] >= c[0] - 4) & (pts_arr[:, 0] <= c[0] + bw + 4)
                      & (pts_arr[:, 1] >= c[1] - 4) & (pts_arr[:, 1] <= c[1] + bh + 4))
            return int(inside.sum())

        bx, by = min(corners, key=covered)
        cv2.rectangle(img, (bx, by), (bx + bw, by + bh), (255, 255, 255), -1)
        cv2.rectangle(img, (bx, by), (bx + bw, by + bh), (120, 120, 120), 1)
        for i, s in enumerate(names):
            cy = by + 15 + 20 * i
            color = COLORS[i % len(COLORS)]
            cv2.line(img, (bx + 8, cy), (bx + 30, cy), color, 2, cv2.LINE_AA)
            _text(img, s, (bx + 36, cy))
    return img


def save_line_plot(path: str | os.PathLike, series: Mapping[str, Sequence[float]],
                   **kwargs) -> np.ndarray:
    """Render the plot (see render_line_plot) and write it atomically as a PNG; returns the image."""
    img = render_line_plot(series, **kwargs)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR image
        raise RuntimeError("PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())
    return img
