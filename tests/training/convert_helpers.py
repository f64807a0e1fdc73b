"""Shared pieces of the `ifcn convert` tests: generated annotations (saved by the annotator's own writer) and
each format's reader as its own tool reads it (pycocotools, labelme's rule, Ultralytics' parsing)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject, ClassTable
from models.fileio import read_index_png, write_index_png

H, W = 60, 80
yy, xx = np.mgrid[:H, :W]


def disc(cx, cy, r):
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


RING = disc(22, 22, 14) & ~disc(22, 22, 5)   # an object with a hole
BOX = (xx >= 44) & (xx < 70) & (yy >= 30) & (yy < 52)
TWO_PARTS = disc(8, 50, 5) | disc(30, 52, 4)  # one object, two parts
VOID_REGION = (xx >= 72) & (yy < 12)
CLASSES = {15: "person", 12: "dog", 3: "stone wall"}


def disc(cx, cy, r):
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def filled(mask):
    """The mask with its holes filled (what a polygon format can say)."""
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(out, cs, -1, 1, -1)
    return out.astype(bool)


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def write_image(path: Path, seed: int) -> None:
    rgb = np.stack([xx * 3 + seed * 20, yy * 4, np.full_like(xx, 90)], -1).clip(0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(path)


def annotate(folder: Path, name: str, objects, seed=0, void=None) -> Path:
    """An image and its annotation, saved by the annotator's writer; `void` painted as 255 into both PNGs."""
    path = folder / name
    write_image(path, seed)
    table = ClassTable()
    table.rename(3, CLASSES[3])
    st = AnnotationState((H, W), table)
    st.load_objects([AnnotObject(uid=0, class_index=c, mask=m) for c, m in objects], None)
    paths = label_file.save(folder, path, st)
    if void is not None:
        for png in (paths.class_png, paths.object_png):
            arr = read_index_png(png).copy()
            arr[void] = 255
            write_index_png(png, arr)
    return path


def coco_masks(coco_api, stem):
    """(image entry, annotations) of the image `stem` in a pycocotools.COCO."""
    img = next(i for i in coco_api.dataset["images"] if Path(i["file_name"]).stem == stem)
    anns = coco_api.loadAnns(coco_api.getAnnIds(imgIds=[img["id"]]))
    return img, anns


def check_labelme_schema(doc: dict, json_path: Path) -> None:
    """labelme's file schema (labelme/_label_file.py: read_label_file and _load_shape_json_obj)."""
    for key in ("version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"):
        assert key in doc, key
    assert isinstance(doc["version"], str) and isinstance(doc["flags"], dict) and doc["imageData"] is None
    assert (json_path.parent / doc["imagePath"]).is_file()
    with Image.open(json_path.parent / doc["imagePath"]) as im:
        assert im.size == (doc["imageWidth"], doc["imageHeight"])
    for s in doc["shapes"]:
        assert set(s) >= {"label", "points", "group_id", "shape_type", "flags", "description", "mask"}
        assert isinstance(s["label"], str) and s["points"] and isinstance(s["flags"], dict)
        assert all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)
                   for p in s["points"])
        assert s["group_id"] is None or isinstance(s["group_id"], int)
        assert s["shape_type"] in ("polygon", "mask")
        assert len(s["points"]) > 2 if s["shape_type"] == "polygon" else len(s["points"]) == 2


def labelme_instances(doc: dict) -> list[tuple[str, np.ndarray]]:
    """(label, mask) per (label, group_id), rasterised with an independent rule: cv2.fillPoly on rounded
    vertices (the same centre convention as labelme's PIL), masks pasted at their box."""
    h, w = doc["imageHeight"], doc["imageWidth"]
    groups: dict = {}
    for n, s in enumerate(doc["shapes"]):
        key = (s["label"], s["group_id"] if s["group_id"] is not None else f"#{n}")
        m = groups.setdefault(key, np.zeros((h, w), np.uint8))
        if s["shape_type"] == "polygon":
            cv2.fillPoly(m, [np.round(np.asarray(s["points"])).astype(np.int32)], 1)
        else:
            import base64
            import io
            crop = np.asarray(Image.open(io.BytesIO(base64.b64decode(s["mask"])))).astype(np.uint8)
            (x1, y1), (x2, y2) = s["points"]
            m[y1:y2 + 1, x1:x2 + 1] |= crop
    return [(label, m.astype(bool)) for (label, _), m in groups.items()]


def parse_data_yaml(text: str) -> dict:
    """The keys of Ultralytics' data.yaml as written (PyYAML's safe_load when installed)."""
    try:
        import yaml
        return yaml.safe_load(text)
    except ImportError:
        doc: dict = {}
        for line in text.splitlines():
            if m := re.match(r"^(\w+): (.+)$", line):
                doc[m[1]] = json.loads(m[2])
            elif m := re.match(r"^  (\d+): (.+)$", line):
                doc.setdefault("names", {})[int(m[1])] = json.loads(m[2])
        return doc


def read_yolo_label(path: Path, h: int, w: int) -> list[tuple[int, np.ndarray]]:
    """Ultralytics' documented parsing: class, normalised x y pairs; polygon2mask = x*w, int32, fillPoly."""
    out = []
    for line in path.read_text().splitlines():
        vals = line.split()
        cls, coords = int(vals[0]), np.array([float(v) for v in vals[1:]])
        assert len(coords) >= 6 and len(coords) % 2 == 0 and ((0 <= coords) & (coords <= 1)).all()
        pts = (coords.reshape(-1, 2) * [w, h]).astype(np.int32)
        m = np.zeros((h, w), np.uint8)
        cv2.fillPoly(m, [pts], 1)
        out.append((cls, m.astype(bool)))
    return out


def loaded_objects(folder: Path, image: Path):
    """What the annotator opens for `image` (its own reader): [(class, mask)], class names."""
    with Image.open(image) as im:
        w, h = im.size
    got = label_file.load(folder, image, (h, w))
    assert got is not None and not got.needs_resave and got.current is None
    assert all(not o.clicks and o.mask is not None for o in got.objects)  # finished objects
    return [(o.class_index, o.mask) for o in got.objects], {c.index: c.name for c in got.classes}


def compose(objs):
    """(class map, instance map) of [(class, mask)], later objects on top, as the annotator composes."""
    cls = np.zeros((H, W), np.uint8)
    inst = np.zeros((H, W), np.uint8)
    for k, (c, m) in enumerate(objs, start=1):
        cls[m], inst[m] = c, k
    return cls, inst


def write_labelme(path: Path, image: str, shapes: list[dict], h=H, w=W) -> None:
    full = [{"label": s["label"], "points": s["points"], "group_id": s.get("group_id"),
             "shape_type": s.get("shape_type", "polygon"), "flags": {}, "description": ""} for s in shapes]
    path.write_text(json.dumps({"version": "5.4.1", "flags": {}, "shapes": full, "imagePath": image,
                                "imageData": None, "imageHeight": h, "imageWidth": w}))
