"""A small synthetic dataset in PASCAL VOC layout (textured shapes), for tests and for trying the pipeline.

Writes ``OUT/VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, SegmentationObject,
ImageSets/Segmentation/{train,val,trainval}.txt}``. Like VOC, the masks carry a void (255) band about
5 px wide on every object border. Each image holds 2-4 shapes (ellipses, polygons) that may overlap or
touch, on a noisy textured background; about one image in three also holds a tiny object (< 400 px) so
the drop rules of pair generation get exercised.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from models.errors import IFCNError
from models.fileio import atomic_write_bytes, atomic_write_text, write_index_png

VOID = 255
VOID_WIDTH = 5


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Low-frequency noise in [0, 1], HxW."""
    small = rng.random((max(2, h // cell + 2), max(2, w // cell + 2)), dtype=np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random coloured texture (stripes, blobs or checks plus grain), float32 HxWx3 in 0..255."""
    base = rng.uniform(20, 235, size=3).astype(np.float32)
    alt = rng.uniform(20, 235, size=3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    kind = rng.integers(3)
    if kind == 0:
        period = rng.uniform(6, 18)
        angle = rng.uniform(0, np.pi)
        t = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    elif kind == 1:
        t = _smooth_noise(rng, h, w, int(rng.integers(6, 20)))
    else:
        cell = int(rng.integers(5, 14))
        t = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
    img = base * (1 - t[..., None]) + alt * t[..., None]
    img += rng.normal(0, 8, size=(h, w, 3)).astype(np.float32)
    return img


def _shape_mask(rng: np.random.Generator, h: int, w: int, small: bool = False) -> np.ndarray:
    """A random filled ellipse or polygon, bool HxW."""
    m = np.zeros((h, w), np.uint8)
    short = min(h, w)
    if small:
        r = max(3, short // 24)
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        cv2.circle(m, (cx, cy), r, 1, -1)
        return m.astype(bool)
    cx = int(rng.integers(short // 6, w - short // 6))
    cy = int(rng.integers(short // 6, h - short // 6))
    if rng.random() < 0.5:
        ax = (int(rng.integers(short // 7, short // 3)), int(rng.integers(short // 7, short // 3)))
        cv2.ellipse(m, (cx, cy), ax, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(short / 7, short / 3, n)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1).astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m.astype(bool)


def synth_image(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One synthetic sample: rgb uint8 HxWx3, instance mask and class mask (uint8, 255 = void)."""
    h, w = size
    img = _texture(rng, h, w) * 0.6 + 255 * 0.4 * _smooth_noise(rng, h, w, 24)[..., None]
    objects = np.zeros((h, w), np.uint8)
    classes = np.zeros((h, w), np.uint8)
    n_obj = int(rng.integers(2, 5))
    shapes = [_shape_mask(rng, h, w) for _ in range(n_obj)]
    if rng.random() < 0.35:
        shapes.append(_shape_mask(rng, h, w, small=True))
    # Later shapes occlude earlier ones; drop shapes left mostly hidden (tiny slivers are not objects).
    covered = np.zeros((h, w), bool)
    kept = []
    for m in reversed(shapes):
        if (m & ~covered).sum() >= 0.4 * m.sum():
            kept.append(m)
            covered |= m
    inst = 0
    for m in reversed(kept):
        inst += 1
        cls = int(rng.integers(1, 21))
        img[m] = _texture(rng, h, w)[m]
        objects[m] = inst
        classes[m] = cls
    # Void band on every border between different labels (VOC draws ~5 px around each object).
    edges = cv2.morphologyEx(objects, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    band = cv2.dilate(edges.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (VOID_WIDTH - 2, VOID_WIDTH - 2))) > 0
    objects[band] = VOID
    classes[band] = VOID
    rgb = np.clip(img, 0, 255).astype(np.uint8)
    return rgb, objects, classes


def write_synthetic_devkit(out: str | os.PathLike, n_images: int = 20, seed: int = 0,
                           size: tuple[int, int] = (240, 320)) -> Path:
    """Write a synthetic VOC devkit under `out`; returns `out/VOCdevkit` (usable as --voc-root)."""
    if n_images < 2:
        raise IFCNError(f"--images must be at least 2 (one train and one val image), got {n_images}.")
    h, w = int(size[0]), int(size[1])
    if h < 48 or w < 48:
        raise IFCNError(f"image size {h}x{w} is too small: use at least 48x48.")
    devkit = Path(out) / "VOCdevkit"
    base = devkit / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = []
    for i in range(n_images):
        image_id = f"synth_{i:05d}"
        rgb, objects, classes = synth_image(rng, (h, w))
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise IFCNError(f"could not encode synthetic image {image_id} as JPEG.")
        atomic_write_bytes(base / "JPEGImages" / f"{image_id}.jpg", jpg.tobytes())
        write_index_png(base / "SegmentationObject" / f"{image_id}.png", objects)
        write_index_png(base / "SegmentationClass" / f"{image_id}.png", classes)
        ids.append(image_id)
    n_train = (n_images + 1) // 2
    sets = {"train": ids[:n_train], "val": ids[n_train:], "trainval": ids}
    for name, lst in sets.items():
        atomic_write_text(base / "ImageSets" / "Segmentation" / f"{name}.txt", "".join(f"{s}\n" for s in lst))
    return devkit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn synth`."""
    parser.add_argument("--out", required=True, help="folder to write the devkit into (OUT/VOCdevkit/VOC2012)")
    parser.add_argument("--images", type=int, default=20, help="number of images (half train, half val)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--height", type=int, default=240, help="image height in pixels")
    parser.add_argument("--width", type=int, default=320, help="image width in pixels")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn synth`."""
    devkit = write_synthetic_devkit(args.out, args.images, args.seed, (args.height, args.width))
    print(f"wrote {args.images} synthetic images to {devkit / 'VOC2012'}")
    print(f"next: ifcn pairs --voc-root {devkit} --split train --out {Path(args.out) / 'train_pairs.npz'}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="ifcn synth", description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
