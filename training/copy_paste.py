"""Copy-paste augmentation for object folders (Ghiasi et al., "Simple Copy-Paste", CVPR 2021).

The training photos are few (1,441 for the default model), and a model fine-tuned on them for long starts to
learn the photos rather than objects. Pasting an object of another photo onto the item's photo makes new
scenes from the same masks: with half the chance the pasted object is the one to segment (on a background it
was never seen on), otherwise it is one more object beside (or in front of) the item's own, which stays the
target where it is still visible. The label map follows (`training.layouts.ObjectFolder.load_object`'s
values: 1 the target, 2.. other objects, 255 ignore), so clicks, the loss and the corrective-click rounds see
the new scene as they would a real one.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.metrics import object_box
from training.layouts import TARGET_LABEL, VOID_LABEL

TARGET, VOID = TARGET_LABEL, VOID_LABEL
#: the pasted object's size relative to its own photo's is kept, times a random factor in this range
SCALE = (0.6, 1.4)
#: chance that the pasted object becomes the target (else it is another object of the scene)
PASTED_TARGET = 0.5
#: chance that an occluding paste is centred on a point of the target's box (else anywhere)
NEAR_TARGET = 0.5
#: pasted objects smaller than this many pixels after scaling are not pasted
MIN_PASTE_AREA = 400
#: blur of the paste's alpha (px): its edge blends into the photo instead of a one-pixel step
EDGE_SIGMA = 0.8


@dataclass(frozen=True)
class Donor:
    """An object to paste: its photo and its mask (True = the object), both the photo's size."""

    rgb: np.ndarray
    mask: np.ndarray


def paste(rgb: np.ndarray, labels: np.ndarray, donor: Donor, rng: np.random.Generator,
          usable_target=None) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, labels) of the item's photo with `donor`'s object pasted on it; the inputs when it cannot be.

    `usable_target(labels) -> bool` says whether the map's target (1) can be trained on (area, room for a
    click); an occluding paste that leaves it unusable makes the pasted object the target instead, and a pasted
    target that is not usable is not pasted.
    """
    h, w = labels.shape
    box = object_box(donor.mask)
    if box is None:
        return rgb, labels
    x0, y0, x1, y1 = box
    dh, dw = donor.mask.shape
    s = float(rng.uniform(*SCALE)) * max(h, w) / max(dh, dw)
    bw, bh = x1 - x0, y1 - y0
    s = min(s, w / bw, h / bh)  # the pasted object fits inside the photo
    nw, nh = min(w, max(1, round(bw * s))), min(h, max(1, round(bh * s)))
    obj_rgb = cv2.resize(donor.rgb[y0:y1, x0:x1], (nw, nh), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(donor.mask[y0:y1, x0:x1].astype(np.float32), (nw, nh),
                       interpolation=cv2.INTER_LINEAR)
    hard = alpha >= 0.5
    if int(hard.sum()) < MIN_PASTE_AREA:
        return rgb, labels
    pasted_target = rng.random() < PASTED_TARGET
    tbox = None if pasted_target else object_box(labels == TARGET)
    if tbox is not None and rng.random() < NEAR_TARGET:  # an occluder centred on a point of the target's box
        cx, cy = int(rng.integers(tbox[0], tbox[2])), int(rng.integers(tbox[1], tbox[3]))
        px, py = int(np.clip(cx - nw // 2, 0, w - nw)), int(np.clip(cy - nh // 2, 0, h - nh))
    else:
        px, py = int(rng.integers(0, w - nw + 1)), int(rng.integers(0, h - nh + 1))
    region = (slice(py, py + nh), slice(px, px + nw))
    full = np.zeros((h, w), bool)
    full[region] = hard
    new_id = _free_label(labels)
    out = labels.copy()
    if not pasted_target:
        out[full] = new_id
        if usable_target is not None and not usable_target(out):
            pasted_target = True
            out = labels.copy()
    if pasted_target:
        out[out == TARGET] = new_id
        out[full] = TARGET
        if usable_target is not None and not usable_target(out):
            return rgb, labels
    # the label's edge with a little blur: pixels outside it take at most half of the donor's colour
    soft = hard.astype(np.float32)
    if EDGE_SIGMA > 0:
        soft = np.maximum(cv2.GaussianBlur(soft, (0, 0), EDGE_SIGMA), soft)
    soft = soft[..., None]
    img = rgb.copy()
    patch = img[region].astype(np.float32)
    img[region] = np.clip(np.rint(patch * (1 - soft) + obj_rgb.astype(np.float32) * soft), 0, 255).astype(np.uint8)
    return img, out


def _free_label(labels: np.ndarray) -> int:
    """An object label (2..254) not in the map: one more than the largest, or a gap when the largest is 254."""
    present = np.unique(labels)
    top = int(present[present < VOID].max(initial=TARGET))
    if top + 1 < VOID:
        return max(top + 1, 2)
    free = np.setdiff1d(np.arange(2, VOID), present)
    return int(free[0]) if len(free) else VOID - 1
