"""COCO instances JSON: masks as run-length encodings (exact, holes kept) or polygons, crowd = ignore.

RLE follows the COCO API (`pycocotools.mask`): alternating run lengths of 0s and 1s over the mask read
column by column (Fortran order), starting with 0s; `counts` is compressed into a string as
`maskApi.c` `rleToString` does (each count, after the first two, as the difference to the count two
before, 5 bits a character from '0', bit 0x20 = more follows, sign in bit 0x10). The tests check these
strings byte for byte against `pycocotools.mask.encode`.

Categories are the class table (id = the annotator's class index, so ids survive a round trip); the
ignore region of an image is one ``iscrowd: 1`` RLE annotation of the category `__ignore__`
(id 255, VOC's void value), written only when some image has one.
"""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import DatasetError
from models.fileio import MAX_PIXELS
from training.formats import IGNORE_LABEL, VOID, Dataset, ImageAnnotation, Instance
from training.formats.polygons import area_polygons, fill_area, has_holes

POLYGON_DECIMALS = 2


# ----------------------------------------------------------------------------- run lengths

def runs(flat: np.ndarray) -> list[int]:
    """Alternating run lengths (0s first) of a flat boolean array."""
    flat = np.asarray(flat, dtype=bool).ravel()
    if flat.size == 0:
        return []
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    lengths = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    return ([0] + lengths) if flat[0] else lengths


def from_runs(counts: list[int], size: int) -> np.ndarray:
    """Inverse of `runs`: a flat boolean array of `size` (ValueError when the counts do not add up)."""
    arr = np.asarray(counts, dtype=np.int64)
    if arr.ndim != 1 or (arr.size and arr.min() < 0) or int(arr.sum()) != size:
        raise ValueError(f"run lengths do not add up to {size} pixels")
    return np.repeat((np.arange(arr.size) % 2).astype(bool), arr)


def compress_counts(counts: list[int]) -> str:
    """COCO's compressed RLE string of `counts` (maskApi.c rleToString)."""
    out = []
    for i, c in enumerate(counts):
        x = int(c) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5  # arithmetic shift: negative differences end at x == -1
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def decompress_counts(text: str) -> list[int]:
    """The counts of a COCO compressed RLE string (maskApi.c rleFrString); ValueError if malformed."""
    counts: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ValueError("compressed RLE string ends inside a number")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {text[p]!r} is not part of a compressed RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A mask as COCO compressed RLE ({"size": [h, w], "counts": str}), like pycocotools.mask.encode."""
    m = np.asarray(mask, dtype=bool)
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": compress_counts(runs(m.ravel(order="F")))}


def decode_segmentation(segm: Any, height: int, width: int) -> np.ndarray:
    """A COCO `segmentation` (polygons, RLE or compressed RLE) as a bool HxW mask; ValueError if malformed."""
    if isinstance(segm, list):
        polys = [p for p in segm if isinstance(p, list)]
        if len(polys) != len(segm) or any(len(p) < 6 or len(p) % 2 for p in polys):
            raise ValueError("a polygon must be a list of at least 3 x, y pairs")
        return fill_area(polys, (height, width))
    if isinstance(segm, dict):
        size, counts = segm.get("size"), segm.get("counts")
        if size != [height, width]:
            raise ValueError(f"RLE size {size} is not the image's [{height}, {width}]")
        if isinstance(counts, str):
            counts = decompress_counts(counts)
        if not isinstance(counts, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise ValueError("RLE counts must be a string or a list of integers")
        return from_runs(counts, height * width).reshape((width, height)).T
    raise ValueError("segmentation must be a polygon list or an RLE object")


def bbox(mask: np.ndarray) -> list[float]:
    """[x, y, width, height] of the mask's pixels (pycocotools.mask.toBbox)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


# ----------------------------------------------------------------------------- writing

class CocoBuilder:
    """A COCO instances document built one image at a time (`add`), then `document(classes)`."""

    def __init__(self, polygons: bool = False) -> None:
        self.polygons = polygons
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.holes_filled = 0  # objects written as polygons whose holes were filled
        self.any_void = False

    def _annotation(self, image_id: int, category: int, segm: Any, mask: np.ndarray, crowd: int) -> None:
        self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id, "category_id": category,
                                 "segmentation": segm, "area": int(mask.sum()), "bbox": bbox(mask),
                                 "iscrowd": crowd})

    def add(self, img: ImageAnnotation, file_name: str) -> None:
        """Add an image (`file_name` relative to the exported image folder), its objects and ignore region."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "width": img.width, "height": img.height})
        for obj in img.objects:
            if not obj.mask.any():
                continue
            if self.polygons:
                self.holes_filled += has_holes(obj.mask)
                segm: Any = [[round(float(v), POLYGON_DECIMALS) for v in p.ravel()]
                             for p in area_polygons(obj.mask)]
            else:
                segm = encode_mask(obj.mask)
            self._annotation(image_id, obj.class_index, segm, obj.mask, 0)
        if img.void is not None and img.void.any():
            self.any_void = True
            self._annotation(image_id, VOID, encode_mask(img.void), img.void, 1)

    def document(self, classes: dict[int, str]) -> dict[str, Any]:
        """The COCO document: categories from `classes` (plus `__ignore__` when an image had an ignore region)."""
        categories = [{"id": i, "name": n, "supercategory": ""} for i, n in sorted(classes.items())]
        if self.any_void:
            categories.append({"id": VOID, "name": IGNORE_LABEL, "supercategory": ""})
        return {"info": {"description": "exported by ifcn convert (ifcn-annotator)", "version": "1.0",
                         "date_created": datetime.date.today().isoformat()},
                "licenses": [], "images": self.images, "annotations": self.annotations, "categories": categories}


# ----------------------------------------------------------------------------- reading

def _bad(path: Path, why: str) -> DatasetError:
    return DatasetError(f"{path}: {why}")


def _class_indices(categories: list[dict[str, Any]], path: Path) -> tuple[dict[int, int], dict[int, str], set[int]]:
    """(category id -> class index, class table, ids of ignore categories) of COCO categories.

    Ids that are all within 1..254 are kept (a round trip keeps the annotator's indices); otherwise the
    categories are numbered 1, 2, ... in id order.
    """
    cats = []
    for c in categories:
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or not isinstance(c.get("name"), str):
            raise _bad(path, f"a category needs an integer 'id' and a 'name', got {str(c)[:80]!r}")
        cats.append(c)
    ignore = {c["id"] for c in cats if c["name"] == IGNORE_LABEL}
    real = sorted((c for c in cats if c["id"] not in ignore), key=lambda c: c["id"])
    if len({c["id"] for c in real}) != len(real):
        raise _bad(path, "two categories share an id")
    if len(real) > 254:
        raise _bad(path, f"{len(real)} categories; the annotator holds at most 254 classes")
    keep = all(1 <= c["id"] <= 254 for c in real)
    index = {c["id"]: (c["id"] if keep else k) for k, c in enumerate(real, start=1)}
    names = {index[c["id"]]: (c["name"].strip() or f"class {index[c['id']]}") for c in real}
    return index, names, ignore


def from_coco(doc: Any, path: Path, images_dir: Path) -> Dataset:
    """The images of a COCO instances document that have annotations (headers; masks decoded by
    `Dataset.loaded()`, a malformed annotation skips its image with the reason).

    Objects keep the file's order unless some overlap; then they are ordered by decreasing area, so smaller
    objects lying on larger ones stay visible in the annotator's masks. Crowd annotations become the
    image's ignore region.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
            or not isinstance(doc.get("annotations"), list) or not isinstance(doc.get("categories"), list):
        raise _bad(path, "not a COCO instances file (needs 'images', 'annotations' and 'categories' lists)")
    index, names, ignore = _class_indices(doc["categories"], path)
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in doc["annotations"]:
        if not isinstance(a, dict) or not isinstance(a.get("image_id"), int):
            raise _bad(path, f"an annotation needs an integer 'image_id', got {str(a)[:80]!r}")
        by_image.setdefault(a["image_id"], []).append(a)
    anns_of: dict[str, list[dict[str, Any]]] = {}

    def load(header: ImageAnnotation) -> ImageAnnotation:
        h, w = header.height, header.width
        img = ImageAnnotation(image=header.image, height=h, width=w)
        objects: list[tuple[int, Instance]] = []
        try:
            for a in anns_of[header.image.name]:
                mask = decode_segmentation(a.get("segmentation"), h, w)
                cat = a.get("category_id")
                if a.get("iscrowd") or cat in ignore:
                    img.void = mask if img.void is None else (img.void | mask)
                elif cat not in index:
                    raise ValueError(f"annotation {a.get('id')} has category {cat!r}, which is not in 'categories'")
                elif mask.any():
                    objects.append((int(mask.sum()), Instance(index[cat], mask)))
        except (ValueError, TypeError, OverflowError) as e:
            raise ValueError(f"malformed annotation ({str(e)[:200]})") from None
        if sum(a for a, _ in objects) > np.logical_or.reduce([o.mask for _, o in objects] or [False]).sum():
            objects.sort(key=lambda t: -t[0])  # they overlap: larger first (stable: ties keep the file's order)
        img.objects = [o for _, o in objects]
        return img

    data = Dataset(classes=names, loader=load)
    for info in doc["images"]:
        if not isinstance(info, dict) or not isinstance(info.get("file_name"), str):
            raise _bad(path, f"an image needs a 'file_name', got {str(info)[:80]!r}")
        anns = by_image.get(info.get("id"), [])
        if not anns:
            continue
        name = info["file_name"]
        h, w = info.get("height"), info.get("width")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (h, w)):
            data.skipped.append({"image": name, "reason": "no valid 'width' and 'height'"})
        elif h * w > MAX_PIXELS:
            data.skipped.append({"image": name, "reason": f"declared size {w}x{h} is over {MAX_PIXELS:,} pixels"})
        elif name in anns_of:
            data.skipped.append({"image": name, "reason": "listed twice in 'images'"})
        else:
            anns_of[name] = anns
            data.images.append(ImageAnnotation(image=images_dir / name, height=h, width=w))
    return data
