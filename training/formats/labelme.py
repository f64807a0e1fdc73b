"""labelme JSON, one file per image: polygons (or exact masks) grouped into objects by `group_id`.

A file is ``{"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}``; a
shape is ``{"label", "points", "group_id", "shape_type", "flags", "description", "mask"}``. Objects are
read the way labelme's own `shapes_to_label` (and labelme2voc) reads them: the shapes of one
(label, group_id) form one object, a shape without group_id is an object of its own, shapes are painted
in file order (a later shape covers earlier ones), `__ignore__` shapes are the ignore region and
`_background_` shapes erase. Polygons, rectangles, circles and masks are regions; lines and points are
not (counted and skipped).

Written polygons run through the centres of the boundary pixels, which is what labelme's rasteriser
(PIL, outline included) turns back into exactly the mask with its holes filled. ``shape_type: "mask"``
(labelme 5.3 and later) keeps holes: its ``points`` are the inclusive corners [[x1, y1], [x2, y2]] of the
mask's box and its ``mask`` is that crop as a base64 PNG.
"""
from __future__ import annotations

import base64
import io
import math
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from models.fileio import MAX_PIXELS
from training.formats import BACKGROUND_LABEL, IGNORE_LABEL, ImageAnnotation, Instance
from training.formats.polygons import centre_polygons, fill_centre, has_holes

#: The labelme release whose file schema (with `shape_type: "mask"`) is written.
LABELME_VERSION = "5.5.0"
REGION_TYPES = ("polygon", "rectangle", "circle", "mask", "oriented_rectangle")
POINT_DECIMALS = 2


# ----------------------------------------------------------------------------- writing

def _shape(label: str, points: list, shape_type: str, group_id: int | None, mask: str | None = None) -> dict:
    return {"label": label, "points": points, "group_id": group_id, "description": "",
            "shape_type": shape_type, "flags": {}, "mask": mask}


def _mask_shape(label: str, mask: np.ndarray, group_id: int | None) -> dict:
    ys, xs = np.nonzero(mask)
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    buf = io.BytesIO()
    Image.fromarray(mask[y1:y2 + 1, x1:x2 + 1]).save(buf, format="PNG")  # mode "1", as labelme writes it
    return _shape(label, [[x1, y1], [x2, y2]], "mask", group_id, base64.b64encode(buf.getvalue()).decode("ascii"))


def _region_shapes(label: str, mask: np.ndarray, group_id: int | None, masks: bool) -> list[dict]:
    if masks:
        return [_mask_shape(label, mask, group_id)]
    return [_shape(label, [[round(float(x), POINT_DECIMALS), round(float(y), POINT_DECIMALS)] for x, y in poly],
                   "polygon", group_id) for poly in centre_polygons(mask)]


def to_labelme(img: ImageAnnotation, image_path: str, classes: dict[int, str],
               masks: bool = False) -> tuple[dict[str, Any], int]:
    """(labelme document of one image, objects whose holes were filled); `image_path` is relative to the file.

    Object k (1-based) gets group_id k on all its shapes; the ignore region is `__ignore__` shapes.
    """
    shapes: list[dict] = []
    filled = 0
    for k, obj in enumerate(img.objects, start=1):
        if not obj.mask.any():
            continue
        if not masks:
            filled += has_holes(obj.mask)
        shapes += _region_shapes(classes[obj.class_index], obj.mask, k, masks)
    if img.void is not None and img.void.any():
        shapes += _region_shapes(IGNORE_LABEL, img.void, None, masks)
    doc = {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_path,
           "imageData": None, "imageHeight": img.height, "imageWidth": img.width}
    return doc, filled


# ----------------------------------------------------------------------------- reading

def image_path_of(doc: dict[str, Any], json_path: Path, images_dir: Path | None) -> Path:
    """The image a labelme file annotates: `imagePath` beside the file, or its name in `images_dir`."""
    rel = PureWindowsPath(str(doc.get("imagePath") or "")).as_posix()
    if images_dir is not None:
        return images_dir / Path(rel).name
    return json_path.parent / rel


def check_document(doc: Any) -> None:
    """ValueError unless `doc` looks like a labelme file (shapes with labels and points, image size)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list) or "imagePath" not in doc:
        raise ValueError("not a labelme file (needs 'shapes' and 'imagePath')")
    for key in ("imageHeight", "imageWidth"):
        v = doc.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"'{key}' must be a positive integer, got {v!r}")
    if doc["imageHeight"] * doc["imageWidth"] > MAX_PIXELS:
        raise ValueError(f"the image size {doc['imageWidth']}x{doc['imageHeight']} is over {MAX_PIXELS:,} pixels")
    for s in doc["shapes"]:
        if not isinstance(s, dict) or not isinstance(s.get("label"), str) or not isinstance(s.get("points"), list):
            raise ValueError(f"a shape needs a 'label' and 'points', got {str(s)[:80]!r}")
        gid = s.get("group_id")
        if gid is not None and (not isinstance(gid, int) or isinstance(gid, bool)):
            raise ValueError(f"group_id must be an integer or null, got {gid!r}")
        _points(s["points"])


def labels_of(doc: dict[str, Any]) -> set[str]:
    """The class labels of a (checked) labelme document's region shapes, without ignore and background."""
    return {s["label"] for s in doc["shapes"] if (s.get("shape_type") or "polygon") in REGION_TYPES
            and s["label"] not in (IGNORE_LABEL, BACKGROUND_LABEL)}


def _points(raw: list) -> list[tuple[float, float]]:
    pts = []
    for p in raw:
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)):
            raise ValueError(f"a point must be [x, y], got {str(p)[:40]!r}")
        pts.append((float(p[0]), float(p[1])))
    return pts


def shape_mask(shape: dict[str, Any], hw: tuple[int, int]) -> np.ndarray:
    """The region of one shape as labelme's `shape_to_mask` draws it (PIL); ValueError if malformed."""
    kind = shape.get("shape_type") or "polygon"
    pts = _points(shape["points"])
    h, w = hw
    if kind == "mask":
        if len(pts) != 2 or not isinstance(shape.get("mask"), str):
            raise ValueError("a mask shape needs 2 points and a base64 PNG 'mask'")
        try:
            crop = np.asarray(Image.open(io.BytesIO(base64.b64decode(shape["mask"], validate=True)))).astype(bool)
        except Exception as e:  # PIL and base64 raise many types for garbage
            raise ValueError(f"the shape's mask is not a base64 PNG ({e})") from None
        out = np.zeros(hw, dtype=bool)
        (x1, y1), (x2, y2) = [(int(x), int(y)) for x, y in pts]
        if crop.ndim == 3:
            crop = crop.any(axis=2)
        if crop.shape != (y2 - y1 + 1, x2 - x1 + 1) or x1 < 0 or y1 < 0 or x2 >= w or y2 >= h:
            raise ValueError("the shape's mask does not fit its box in the image")
        out[y1:y2 + 1, x1:x2 + 1] = crop
        return out
    if kind in ("polygon", "oriented_rectangle"):
        if len(pts) < 3:
            raise ValueError("a polygon needs at least 3 points")
        return fill_centre([pts], hw)
    if len(pts) != 2:
        raise ValueError(f"a {kind} needs 2 points")
    im = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(im)
    (x0, y0), (x1, y1) = pts
    if kind == "rectangle":
        draw.rectangle(((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))), outline=1, fill=1)
    else:  # circle: centre and a point on the rim
        d = math.hypot(x1 - x0, y1 - y0)
        draw.ellipse(((x0 - d, y0 - d), (x0 + d, y0 + d)), outline=1, fill=1)
    return np.asarray(im, dtype=np.uint8).astype(bool)


def from_labelme(doc: dict[str, Any], image: Path, class_index: dict[str, int]) -> tuple[ImageAnnotation, int]:
    """(objects of a checked labelme document, shapes skipped because they are no region).

    `class_index` maps every label to the annotator's class index. ValueError for a malformed shape.
    """
    h, w = doc["imageHeight"], doc["imageWidth"]
    ins = np.zeros((h, w), dtype=np.int32)
    groups: list[tuple[str, Any]] = []
    not_regions = 0
    for n, s in enumerate(doc["shapes"]):
        if (s.get("shape_type") or "polygon") not in REGION_TYPES:
            not_regions += 1
            continue
        key = (s["label"], s["group_id"] if s.get("group_id") is not None else ("shape", n))
        if key not in groups:
            groups.append(key)
        ins[shape_mask(s, (h, w))] = groups.index(key) + 1
    img = ImageAnnotation(image=image, height=h, width=w)
    void = np.zeros((h, w), dtype=bool)
    for k, (label, _) in enumerate(groups, start=1):
        mask = ins == k
        if label == IGNORE_LABEL:
            void |= mask
        elif label != BACKGROUND_LABEL and mask.any():
            img.objects.append(Instance(class_index[label], mask))
    img.void = void if void.any() else None
    return img, not_regions
