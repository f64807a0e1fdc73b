"""Synthetic composites from real photos: a VOC-layout devkit for training and validating iFCN offline.

Each image pastes 1-4 objects on a crop of a real photo. An object is a random shape (smooth blob,
polygon, several parts, holes, thin limbs) filled with a texture cut from another real photo, with
colour jitter, a shading gradient, soft edges and sometimes a drop shadow; objects touch and occlude
each other. The photo pool is split by file: photos of `val` are never used in `train`.

Writes ``OUT/VOCdevkit/VOC2012/{JPEGImages, SegmentationClass, SegmentationObject,
ImageSets/Segmentation/{train,val,trainval}.txt, composites.json}``; masks carry the VOC void band
(255, about 5 px) on every object border; every object has class 1.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from models.errors import DatasetError, ImageReadError
from models.fileio import atomic_write_bytes, atomic_write_text, list_images, read_image, write_index_png

VOID = 255
JPEG_QUALITY = 92
VAL_FRACTION = 0.2
MAX_OBJECTS = 4


@dataclass(frozen=True)
class PhotoSource:
    """A set of real photos that lies on disk once a package is installed, with its licence."""

    prefix: str        # file-name prefix in the pool
    package: str       # where it comes from (PyPI or Debian package)
    location: str      # "python:<module>/<subdir>" (inside an installed module) or an absolute folder
    files: tuple[str, ...]
    licence: str

    def folder(self) -> Path | None:
        """The folder holding the files, or None when the package is not installed."""
        if not self.location.startswith("python:"):
            return Path(self.location)
        module, _, sub = self.location[len("python:"):].partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(list(spec.submodule_search_locations)[0]) / sub


#: Real photos available offline, with their licences. Synthetic images, near-duplicates (stereo pairs,
#: second views), pictures of unclear licence and copyleft sets (e.g. Debian's palapeli-data, GPL-2+)
#: are left out on purpose, so the shipped weights derive only from permissively licensed photos.
PHOTO_SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource("skimage", "scikit-image (PyPI)", "python:skimage/data",
                ("chelsea.png", "coffee.png", "camera.png", "retina.jpg", "brick.png", "grass.png",
                 "gravel.png"),
                "CC0 (photographers / CC0Textures, as stated in skimage.data)"),
    PhotoSource("skimage", "scikit-image (PyPI)", "python:skimage/data",
                ("astronaut.png", "rocket.jpg", "hubble_deep_field.jpg", "coins.png", "ihc.png", "moon.png"),
                "public domain / no known copyright restrictions (NASA, SpaceX, Brooklyn Museum; skimage.data)"),
    PhotoSource("sklearn", "scikit-learn (PyPI)", "python:sklearn/datasets/images",
                ("china.jpg", "flower.jpg"),
                "CC BY 2.0 (Flickr users danielbuechele and vultilion; sklearn/datasets/images/README.txt)"),
    PhotoSource("opencv", "opencv-doc (Debian)", "/usr/share/doc/opencv-doc/examples/data",
                ("aero1.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "basketball1.png", "board.jpg",
                 "box_in_scene.png", "building.jpg", "butterfly.jpg", "chicky_512.png", "ela_original.jpg",
                 "fruits.jpg", "graf1.png", "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg", "messi5.jpg",
                 "orange.jpg", "left.jpg", "left01.jpg", "rubberwhale1.png", "smarties.png", "squirrel_cls.jpg",
                 "starry_night.jpg", "stuff.jpg", "sudoku.png"),
                "Apache-2.0 AND BSD-3-Clause (OpenCV samples/data; Debian's copyright file, Lena removed)"),
)

INSTALL_HINT = ("install the photo sources: `pip install scikit-image scikit-learn` and "
                "`apt-get install opencv-doc`")


def collect_photos(dest: str | os.PathLike) -> list[Path]:
    """Copy every available photo of PHOTO_SOURCES into `dest` (plus SOURCES.tsv); returns the copies."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    rows = ["file\tpackage\toriginal\tlicence"]
    for src in PHOTO_SOURCES:
        folder = src.folder()
        if folder is None or not folder.is_dir():
            continue
        for name in src.files:
            path = folder / name
            if not path.is_file():
                continue
            target = dest / f"{src.prefix}_{name}"
            shutil.copyfile(path, target)
            copied.append(target)
            rows.append(f"{target.name}\t{src.package}\t{path}\t{src.licence}")
    if not copied:
        raise DatasetError(f"no photo found in any known location; {INSTALL_HINT}.")
    atomic_write_text(dest / "SOURCES.tsv", "\n".join(rows) + "\n")
    return copied


def split_photos(photos: list[Path], seed: int, val_fraction: float = VAL_FRACTION) -> tuple[list[Path], list[Path]]:
    """Split the pool by file, deterministically from `seed`: (train photos, val photos), disjoint."""
    unique = sorted({Path(p) for p in photos}, key=lambda p: (p.name, str(p)))
    if len(unique) < 2:
        raise DatasetError(f"need at least 2 photos (one for train, one for val), found {len(unique)}; "
                           f"{INSTALL_HINT} or pass --photos folders holding more images.")
    order = np.random.default_rng([seed, 7]).permutation(len(unique))
    n_val = min(len(unique) - 1, max(1, round(val_fraction * len(unique))))
    val = sorted(unique[i] for i in order[:n_val])
    train = sorted(unique[i] for i in order[n_val:])
    return train, val


# ---------------------------------------------------------------------------------------------------
# Shapes (uint8 masks, 1 inside)


def _blob(rng: np.random.Generator, m: np.ndarray, cx: float, cy: float, r: float) -> None:
    """A smooth random closed curve (low-order Fourier radius), stretched and rotated."""
    t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    k = np.arange(2, 7)[:, None]
    amp = rng.uniform(0, 0.35, (5, 1)) / (k - 1)
    rad = 1 + (amp * np.cos(k * t + rng.uniform(0, 2 * np.pi, (5, 1)))).sum(0)
    rad = np.clip(rad, 0.35, None) * r
    stretch, rot = rng.uniform(0.55, 1.0), rng.uniform(0, np.pi)
    x, y = rad * np.cos(t), rad * np.sin(t) * stretch
    pts = np.stack([cx + x * np.cos(rot) - y * np.sin(rot), cy + x * np.sin(rot) + y * np.cos(rot)], 1)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)


def _polygon(rng: np.random.Generator, m: np.ndarray, cx: float, cy: float, r: float) -> None:
    """A random simple polygon (convex or star-like), 3-9 vertices."""
    n = int(rng.integers(3, 10))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * rng.uniform(0.45 if rng.random() < 0.5 else 0.85, 1.0, n)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)


def _limbs(rng: np.random.Generator, m: np.ndarray, cx: float, cy: float, r: float) -> None:
    """1-5 thin bent limbs growing out of the body (legs, antennae, handles)."""
    for _ in range(int(rng.integers(1, 6))):
        a = rng.uniform(0, 2 * np.pi)
        length = r * rng.uniform(0.6, 1.6)
        pts = [(cx + 0.5 * r * np.cos(a), cy + 0.5 * r * np.sin(a))]
        for _ in range(int(rng.integers(1, 3))):
            a += rng.uniform(-0.8, 0.8)
            step = length / 2
            pts.append((pts[-1][0] + step * np.cos(a), pts[-1][1] + step * np.sin(a)))
        thick = int(round(rng.uniform(max(5.0, 0.08 * r), max(6.0, 0.2 * r))))
        cv2.polylines(m, [np.round(np.array(pts)).astype(np.int32)], False, 1, thickness=thick)


def _holes(rng: np.random.Generator, m: np.ndarray, cx: float, cy: float, r: float) -> None:
    """Cut 1-2 elliptic holes inside the body (rings, handles, donuts)."""
    for _ in range(int(rng.integers(1, 3))):
        off = rng.uniform(0, 0.35 * r)
        a = rng.uniform(0, 2 * np.pi)
        axes = (max(2, int(r * rng.uniform(0.15, 0.35))), max(2, int(r * rng.uniform(0.1, 0.3))))
        cv2.ellipse(m, (int(cx + off * np.cos(a)), int(cy + off * np.sin(a))), axes,
                    float(rng.uniform(0, 180)), 0, 360, 0, -1)


def random_shape(rng: np.random.Generator, size: int, cx: float, cy: float, r: float) -> np.ndarray:
    """One object's mask (bool size x size): blob or polygon, maybe several parts, holes and limbs."""
    m = np.zeros((size, size), np.uint8)
    (_blob if rng.random() < 0.6 else _polygon)(rng, m, cx, cy, r)
    if rng.random() < 0.3:  # multi-part: extra parts, joined or detached
        for _ in range(int(rng.integers(1, 3))):
            a, d = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.7, 1.6)
            (_blob if rng.random() < 0.6 else _polygon)(rng, m, cx + d * np.cos(a), cy + d * np.sin(a),
                                                         r * rng.uniform(0.3, 0.6))
    if rng.random() < 0.3:
        _limbs(rng, m, cx, cy, r)
    if rng.random() < 0.25:
        _holes(rng, m, cx, cy, r)
    return m.astype(bool)


# ---------------------------------------------------------------------------------------------------
# Appearance (float32 HxWx3 in 0..255)


def _crop(rng: np.random.Generator, photo: np.ndarray, size: int, min_scale: float) -> np.ndarray:
    """A random square crop of `photo` resized to size x size, randomly flipped / rotated."""
    h, w = photo.shape[:2]
    side = max(1, int(min(h, w) * rng.uniform(min_scale, 1.0)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = photo[y:y + side, x:x + side]
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(np.rot90(out, int(rng.integers(0, 4)))).astype(np.float32)


def _jitter(rng: np.random.Generator, img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Brightness, contrast, saturation and per-channel colour gains."""
    s = strength
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(1 - 0.4 * s, 1 + 0.4 * s)              # saturation
    mean = img.mean()
    img = mean + (img - mean) * rng.uniform(1 - 0.3 * s, 1 + 0.3 * s)              # contrast
    gains = rng.uniform(1 - 0.15 * s, 1 + 0.15 * s, 3).astype(np.float32)
    return img * gains * rng.uniform(1 - 0.3 * s, 1 + 0.3 * s)                      # colour, brightness


def _shading(rng: np.random.Generator, size: int, strength: float) -> np.ndarray:
    """A multiplicative lighting gradient (linear ramp, maybe radial falloff), HxWx1."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    a = rng.uniform(0, 2 * np.pi)
    g = 1 + strength * rng.uniform(-1, 1) * (xx * np.cos(a) + yy * np.sin(a))
    if rng.random() < 0.4:
        cx, cy = rng.uniform(-0.3, 0.3, 2)
        g *= 1 - strength * 0.8 * np.clip(((xx - cx) ** 2 + (yy - cy) ** 2) * 2, 0, 1)
    return g[..., None]


def _texture(rng: np.random.Generator, photos: list[np.ndarray], choices: list[int], size: int) -> np.ndarray:
    """An object texture: a crop of one of the photos `choices`, colour-jittered and shaded."""
    tex = _crop(rng, photos[int(rng.choice(choices))], size, 0.15)
    return _jitter(rng, tex) * _shading(rng, size, rng.uniform(0.2, 0.8))


def _part_labels(rng: np.random.Generator, m: np.ndarray, parts: int) -> np.ndarray:
    """Split object `m` into `parts` regions (int32 label 0..parts-1 per pixel, 0 outside): nearest of
    seeds inside the object, with random per-seed weights so parts are uneven (head / body / limbs)."""
    ys, xs = np.nonzero(m)
    pick = rng.choice(len(xs), size=min(parts, len(xs)), replace=False)
    yy, xx = np.mgrid[0:m.shape[0], 0:m.shape[1]].astype(np.float32)
    weights = rng.uniform(0.6, 1.6, len(pick)).astype(np.float32)
    d = np.stack([np.hypot(xx - xs[i], yy - ys[i]) * w for i, w in zip(pick, weights)])
    return np.where(m, np.argmin(d, axis=0), 0).astype(np.int32)


def _multi_texture(rng: np.random.Generator, photos: list[np.ndarray], choices: list[int], m: np.ndarray,
                   size: int, tex: np.ndarray) -> np.ndarray:
    """`tex` with 2-3 parts of the object re-textured from other photos (a shirt, a face, a wheel), so
    that an object is its shape and the clicks, not one uniform texture."""
    labels = _part_labels(rng, m, int(rng.integers(2, 4)))
    for part in range(1, int(labels.max()) + 1):
        other = _texture(rng, photos, choices, size)
        a = cv2.GaussianBlur((labels == part).astype(np.float32), (0, 0), rng.uniform(0.5, 1.5))[..., None]
        tex = tex * (1 - a) + other * a
    return tex


def _void_band(objects: np.ndarray) -> np.ndarray:
    """Pixels within ~2 px of any border between different labels (VOC's ~5 px void band)."""
    edges = cv2.morphologyEx(objects, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    return cv2.dilate(edges.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))) > 0


def _place(rng: np.random.Generator, size: int, centres: list[tuple[float, float, float]],
           r: float) -> tuple[float, float]:
    """A centre for the next object: next to an earlier one (touching / overlapping) or anywhere."""
    if centres and rng.random() < 0.6:
        px, py, pr = centres[int(rng.integers(len(centres)))]
        a, d = rng.uniform(0, 2 * np.pi), (pr + r) * rng.uniform(0.55, 1.05)
        return float(np.clip(px + d * np.cos(a), 0.1 * size, 0.9 * size)), \
            float(np.clip(py + d * np.sin(a), 0.1 * size, 0.9 * size))
    return float(rng.uniform(0.2, 0.8) * size), float(rng.uniform(0.2, 0.8) * size)


def composite_image(rng: np.random.Generator, photos: list[np.ndarray], size: int, min_area: int,
                    multi_texture: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One composite: rgb uint8 (size, size, 3), instance mask and class mask (uint8, 255 = void).

    `multi_texture`: the probability that an object is made of 2-3 differently textured parts
    (0 draws nothing extra from `rng`, so older recipes give the same images).
    """
    bg_index = int(rng.integers(len(photos)))
    canvas = _jitter(rng, _crop(rng, photos[bg_index], size, 0.3), 0.6) * _shading(rng, size, 0.4)
    for _ in range(20):  # shapes first; drop those mostly hidden by later ones, retry if none is left
        n = int(rng.choice(np.arange(1, MAX_OBJECTS + 1), p=[0.3, 0.3, 0.25, 0.15]))
        centres: list[tuple[float, float, float]] = []
        masks = []
        for i in range(n):
            r = float(size * (rng.uniform(0.12, 0.33) if i else rng.uniform(0.15, 0.38)))
            cx, cy = _place(rng, size, centres, r)
            centres.append((cx, cy, r))
            masks.append(random_shape(rng, size, cx, cy, r))
        covered = np.zeros((size, size), bool)
        kept: list[np.ndarray] = []
        for m in reversed(masks):
            visible = m & ~covered
            if visible.sum() >= max(min_area, 0.3 * m.sum()):
                kept.append(m)
                covered |= m
        if kept:
            break
    else:
        raise DatasetError(f"could not place an object of at least {min_area} px on a {size} px image.")
    kept.reverse()
    objects = np.zeros((size, size), np.uint8)
    for k, m in enumerate(kept, start=1):
        choices = [i for i in range(len(photos)) if i != bg_index] or [bg_index]
        tex = _texture(rng, photos, choices, size)
        if multi_texture > 0 and rng.random() < multi_texture:
            tex = _multi_texture(rng, photos, choices, m, size, tex)
        alpha = m.astype(np.float32)
        if rng.random() < 0.35:  # soft drop shadow on what lies below
            dx, dy = rng.integers(-size // 40 - 1, size // 40 + 2, 2)
            shadow = cv2.GaussianBlur(np.roll(alpha, (int(dy), int(dx)), axis=(0, 1)), (0, 0), size / 80)
            canvas *= 1 - rng.uniform(0.2, 0.5) * shadow[..., None]
        alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.4, 1.2))[..., None]  # edge blur
        canvas = canvas * (1 - alpha) + tex * alpha
        objects[m] = k
    canvas = _jitter(rng, canvas, 0.3)
    if rng.random() < 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 0.9))
    canvas += rng.normal(0, rng.uniform(0, 5), canvas.shape).astype(np.float32)
    rgb = np.clip(canvas, 0, 255).astype(np.uint8)
    band = _void_band(objects)
    classes = (objects > 0).astype(np.uint8)
    objects[band] = VOID
    classes[band] = VOID
    return rgb, objects, classes


# ---------------------------------------------------------------------------------------------------
# Writing the devkit (one task per image; workers hold their split's photos in memory)

_POOL: dict[str, list[np.ndarray]] = {}


def _load_photos(paths: list[Path], max_side: int) -> list[np.ndarray]:
    out = []
    for p in paths:
        try:
            img = read_image(p)
        except ImageReadError as exc:
            raise DatasetError(f"{p}: cannot use this photo ({exc}); remove it from the photo folder.") from None
        s = max_side / max(img.shape[:2])
        if s < 1:
            img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
        out.append(img)
    return out


def _init_worker(splits: dict[str, list[Path]], max_side: int) -> None:
    cv2.setNumThreads(1)
    _POOL.clear()
    for name, paths in splits.items():
        _POOL[name] = _load_photos(paths, max_side)


def _make_one(task: tuple[str, int, int, int, int, str, float]) -> str:
    split, index, seed, size, min_area, base, multi_texture = task
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, index])
    rgb, objects, classes = composite_image(rng, _POOL[split], size, min_area, multi_texture)
    image_id = f"comp_{split}_{index:06d}"
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise DatasetError(f"could not encode composite {image_id} as JPEG.")
    root = Path(base)
    atomic_write_bytes(root / "JPEGImages" / f"{image_id}.jpg", jpg.tobytes())
    write_index_png(root / "SegmentationObject" / f"{image_id}.png", objects)
    write_index_png(root / "SegmentationClass" / f"{image_id}.png", classes)
    return image_id


def _gather(photo_dirs: list[str | os.PathLike]) -> list[Path]:
    photos: list[Path] = []
    for d in photo_dirs:
        d = Path(d)
        if not d.is_dir():
            raise DatasetError(f"{d}: no such photo folder; create it with `ifcn composites --collect --photos {d} "
                               f"--out ...` or point --photos at a folder of real photos.")
        photos.extend(list_images(d))
    return photos


def write_composite_devkit(photo_dirs: list[str | os.PathLike], out: str | os.PathLike, n_train: int = 2000,
                           n_val: int = 200, size: int = 320, seed: int = 0, workers: int = 1,
                           multi_texture: float = 0.0) -> Path:
    """Write a composite VOC devkit under `out` from the photos in `photo_dirs`; returns `out/VOCdevkit`."""
    if n_train < 1 or n_val < 1:
        raise DatasetError(f"need at least one train and one val image, got --train {n_train} --val {n_val}.")
    if size < 64:
        raise DatasetError(f"--size {size} is too small: use at least 64 pixels.")
    if not 0.0 <= multi_texture <= 1.0:
        raise DatasetError(f"--multi-texture {multi_texture} must lie between 0 and 1.")
    train, val = split_photos(_gather(photo_dirs), seed)
    min_area = max(64, int(400 * (size / 320) ** 2))  # VOC pairs drop objects under 400 px at ~500x375
    devkit = Path(out) / "VOCdevkit"
    base = devkit / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationObject", "ImageSets/Segmentation"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    tasks = [(s, i, seed, size, min_area, str(base), float(multi_texture)) for s, n in (("train", n_train), ("val", n_val)) for i in range(n)]
    splits = {"train": train, "val": val}
    if workers <= 1:
        _init_worker(splits, 2 * size)
        ids = [_make_one(t) for t in tasks]
    else:
        with get_context("spawn").Pool(workers, _init_worker, (splits, 2 * size)) as pool:
            ids = list(pool.imap(_make_one, tasks, chunksize=8))
    sets = {"train": [i for i in ids if "_train_" in i], "val": [i for i in ids if "_val_" in i]}
    sets["trainval"] = sets["train"] + sets["val"]
    for name, lst in sets.items():
        atomic_write_text(base / "ImageSets" / "Segmentation" / f"{name}.txt", "".join(f"{s}\n" for s in lst))
    manifest = {"generator": "training.composites", "seed": seed, "size": size, "min_area": min_area,
                "multi_texture": float(multi_texture), "train_images": n_train, "val_images": n_val,
                "train_photos": [str(p) for p in train], "val_photos": [str(p) for p in val]}
    atomic_write_text(base / "composites.json", json.dumps(manifest, indent=1) + "\n")
    return devkit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn composites`."""
    parser.add_argument("--photos", nargs="+", required=True, metavar="DIR", help="folders of real photos")
    parser.add_argument("--out", required=True, help="folder to write the devkit into (OUT/VOCdevkit/VOC2012)")
    parser.add_argument("--collect", action="store_true",
                        help="first copy the known offline photos (scikit-image, scikit-learn, opencv-doc) "
                             "into the first --photos folder")
    parser.add_argument("--train", type=int, default=2000, help="number of train composites (default 2000)")
    parser.add_argument("--val", type=int, default=200, help="number of val composites (default 200)")
    parser.add_argument("--size", type=int, default=320, help="side of the square composites in pixels")
    parser.add_argument("--seed", type=int, default=0, help="random seed (also fixes the photo split)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--multi-texture", type=float, default=0.0, metavar="P",
                        help="probability that an object is made of 2-3 differently textured parts "
                             "(default 0: one texture per object)")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn composites`."""
    if args.collect:
        got = collect_photos(args.photos[0])
        print(f"collected {len(got)} photos into {args.photos[0]} (sources in SOURCES.tsv)")
    devkit = write_composite_devkit(args.photos, args.out, args.train, args.val, args.size, args.seed, args.workers,
                                    args.multi_texture)
    manifest = json.loads((devkit / "VOC2012" / "composites.json").read_text())
    print(f"wrote {args.train} train + {args.val} val composites to {devkit / 'VOC2012'} "
          f"({len(manifest['train_photos'])} train photos, {len(manifest['val_photos'])} val photos)")
    print(f"next: ifcn pairs --voc-root {devkit} --split train --out {Path(args.out) / 'train_pairs.npz'}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="ifcn composites", description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
