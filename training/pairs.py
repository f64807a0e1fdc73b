"""Pre-generated click pairs for a dataset split (`ifcn pairs`), stored as coordinates in one file.

File format (``.npz``, read with ``allow_pickle=False``; `PairSet.save` / `PairSet.load`):

- ``format``: the string ``"ifcn-pairs/1"``;
- ``image_ids`` (I,) str and ``image_sizes`` (I, 2) int32 (height, width) of the images that have pairs;
- per pair p: ``pair_image[p]`` (index into image_ids), ``pair_object[p]`` (instance id in the mask),
  ``pair_strategy[p]`` (negative strategy 1/2/3, 0 = unknown, e.g. imported from PNGs);
- clicks, concatenated: the positives of pair p are ``pos_xy[pos_offsets[p]:pos_offsets[p+1]]``, likewise
  ``neg_xy`` / ``neg_offsets``; each is (N, 2) int32 (x, y) = (column, row);
- ``summary`` and ``meta``: JSON strings (counts of images, objects kept / dropped by reason, pairs, skipped
  images; split, seed, sampling parameters).

The reference's PNG form (one binary PNG per click set, 1 at a click) is written by `export_png` as
``DIR/<image_id>_<object_id>_<k>_{pos,neg}.png`` and read back by `import_png`.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from models.errors import DatasetError, IFCNError, ImageReadError
from models.fileio import atomic_write_bytes, read_index_png, write_index_png
from training.sampling import STRATEGIES, ObjectSampler, SamplingConfig, other_object_candidates
from training.voc import SAMPLE_ERRORS, VOID, FolderDataset, Source, VOCDevkit, instances, open_source

FORMAT = "ifcn-pairs/1"
DEFAULT_PAIRS = {"train": 15}  # any other split: 1 pair per object (reference: val)
_PNG_NAME = re.compile(r"^(?P<image>.+)_(?P<obj>\d+)_(?P<k>\d+)_(?P<kind>pos|neg)\.png$")


@dataclass(frozen=True)
class Pair:
    """One training pair: an object of an image, its positive and negative clicks (x, y)."""

    image_id: str
    object_id: int
    strategy: int
    pos_xy: np.ndarray
    neg_xy: np.ndarray


def _offsets(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    if not arrays:
        return np.zeros((0, 2), np.int32)
    return np.concatenate([np.asarray(a, np.int32).reshape(-1, 2) for a in arrays], axis=0)


@dataclass
class PairSet:
    """All click pairs of a split, stored as flat arrays (see the module docstring)."""

    image_ids: list[str]
    image_sizes: np.ndarray
    pair_image: np.ndarray
    pair_object: np.ndarray
    pair_strategy: np.ndarray
    pos_offsets: np.ndarray
    pos_xy: np.ndarray
    neg_offsets: np.ndarray
    neg_xy: np.ndarray
    summary: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[Pair], sizes: dict[str, tuple[int, int]],
                   summary: dict | None = None, meta: dict | None = None) -> "PairSet":
        """Build from Pair records; `sizes` maps image id to (height, width)."""
        pairs = list(pairs)
        ids: list[str] = []
        index: dict[str, int] = {}
        for p in pairs:
            if p.image_id not in index:
                index[p.image_id] = len(ids)
                ids.append(p.image_id)
        return cls(
            image_ids=ids,
            image_sizes=np.array([sizes[i] for i in ids], np.int32).reshape(-1, 2),
            pair_image=np.array([index[p.image_id] for p in pairs], np.int32),
            pair_object=np.array([p.object_id for p in pairs], np.int32),
            pair_strategy=np.array([p.strategy for p in pairs], np.int8),
            pos_offsets=_offsets([p.pos_xy for p in pairs]),
            pos_xy=_cat([p.pos_xy for p in pairs]),
            neg_offsets=_offsets([p.neg_xy for p in pairs]),
            neg_xy=_cat([p.neg_xy for p in pairs]),
            summary=dict(summary or {}),
            meta=dict(meta or {}),
        )

    def __len__(self) -> int:
        return len(self.pair_image)

    def __getitem__(self, i: int) -> Pair:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return Pair(
            image_id=self.image_ids[int(self.pair_image[i])],
            object_id=int(self.pair_object[i]),
            strategy=int(self.pair_strategy[i]),
            pos_xy=self.pos_xy[self.pos_offsets[i]:self.pos_offsets[i + 1]],
            neg_xy=self.neg_xy[self.neg_offsets[i]:self.neg_offsets[i + 1]],
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def image_size(self, image_id: str) -> tuple[int, int]:
        """(height, width) of an image of the set."""
        return tuple(int(v) for v in self.image_sizes[self.image_ids.index(image_id)])

    def indices_by_image(self) -> dict[str, np.ndarray]:
        """Pair indices grouped by image id (images in file order)."""
        order = np.argsort(self.pair_image, kind="stable")
        bounds = np.searchsorted(self.pair_image[order], np.arange(len(self.image_ids) + 1))
        return {img: order[bounds[k]:bounds[k + 1]] for k, img in enumerate(self.image_ids)
                if bounds[k + 1] > bounds[k]}

    def save(self, path: str | os.PathLike) -> None:
        """Write the set atomically as an .npz file (see the module docstring)."""
        import io
        buf = io.BytesIO()
        np.savez_compressed(
            buf, format=np.array(FORMAT), image_ids=np.array(self.image_ids, dtype=str).reshape(-1),
            image_sizes=self.image_sizes, pair_image=self.pair_image, pair_object=self.pair_object,
            pair_strategy=self.pair_strategy, pos_offsets=self.pos_offsets, pos_xy=self.pos_xy,
            neg_offsets=self.neg_offsets, neg_xy=self.neg_xy,
            summary=np.array(json.dumps(self.summary)), meta=np.array(json.dumps(self.meta)))
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PairSet":
        """Read a file written by `save`; DatasetError naming the file if it is not one."""
        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"{path}: no such pairs file (make one with `ifcn pairs`).")
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt = str(z["format"]) if "format" in z.files else None
                if fmt != FORMAT:
                    raise DatasetError(f"{path}: not an ifcn pairs file (format {fmt!r}, expected {FORMAT!r}).")
                ps = cls(
                    image_ids=[str(s) for s in z["image_ids"]],
                    image_sizes=z["image_sizes"].astype(np.int32).reshape(-1, 2),
                    pair_image=z["pair_image"].astype(np.int32),
                    pair_object=z["pair_object"].astype(np.int32),
                    pair_strategy=z["pair_strategy"].astype(np.int8),
                    pos_offsets=z["pos_offsets"].astype(np.int64),
                    pos_xy=z["pos_xy"].astype(np.int32).reshape(-1, 2),
                    neg_offsets=z["neg_offsets"].astype(np.int64),
                    neg_xy=z["neg_xy"].astype(np.int32).reshape(-1, 2),
                    summary=json.loads(str(z["summary"])),
                    meta=json.loads(str(z["meta"])),
                )
        except DatasetError:
            raise
        except Exception as e:  # zip/npz/json errors of a truncated or foreign file
            raise DatasetError(f"{path}: unreadable pairs file ({type(e).__name__}: {e}).") from None
        ps._validate(path)
        return ps

    def _validate(self, path: Path) -> None:
        n, ni = len(self.pair_image), len(self.image_ids)
        ok = (len(self.pair_object) == n and len(self.pair_strategy) == n
              and len(self.pos_offsets) == n + 1 and len(self.neg_offsets) == n + 1
              and len(self.image_sizes) == ni
              and (n == 0 or (self.pair_image.min() >= 0 and self.pair_image.max() < ni))
              and self.pos_offsets[-1] == len(self.pos_xy) and self.neg_offsets[-1] == len(self.neg_xy)
              and np.all(np.diff(self.pos_offsets) >= 0) and np.all(np.diff(self.neg_offsets) >= 0))
        if not ok:
            raise DatasetError(f"{path}: inconsistent pairs file (array lengths do not match); regenerate it.")


def image_seed(seed: int, image_id: str) -> np.random.SeedSequence:
    """The random stream of one image: depends on the seed and the id only (not on order or workers)."""
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(image_id.encode("utf-8"))])


def pairs_for_objects(objects: np.ndarray, image_id: str, pairs_per_object: int,
                      rng: np.random.Generator, cfg: SamplingConfig) -> tuple[list[Pair], dict[str, int]]:
    """Pairs for every usable object of one instance mask, and counts of kept / dropped objects."""
    counts = {"objects": 0, "kept": 0, "too_small": 0, "no_positive": 0}
    void = objects == VOID
    out: list[Pair] = []
    objs = instances(objects)
    per_object = other_object_candidates(np.where(void, 0, objects), void, cfg.d_margin)
    for obj_id, mask in objs:
        counts["objects"] += 1
        if mask.sum() < cfg.min_area:
            counts["too_small"] += 1
            continue
        others = [c for lab, c in per_object.items() if lab != obj_id]
        sampler = ObjectSampler(mask, None, void, cfg, other_candidates=others)
        if not sampler.can_sample:
            counts["no_positive"] += 1
            continue
        counts["kept"] += 1
        for k in range(pairs_per_object):
            s = STRATEGIES[k % len(STRATEGIES)]
            pos, neg = sampler.pair(s, rng)
            out.append(Pair(image_id, obj_id, s, pos, neg))
    return out, counts


_WORKER_SOURCE: Source | None = None


def _init_worker(source: Source) -> None:
    global _WORKER_SOURCE
    _WORKER_SOURCE = source


def _image_job(job: tuple[str, int, int, SamplingConfig]):
    image_id, ppo, seed, cfg = job
    src = _WORKER_SOURCE
    try:
        src.check(image_id)
        objects = src.load_objects(image_id)
    except SAMPLE_ERRORS as e:
        return image_id, None, None, None, str(e)
    rng = np.random.default_rng(image_seed(seed, image_id))
    pairs, counts = pairs_for_objects(objects, image_id, ppo, rng, cfg)
    return image_id, objects.shape, pairs, counts, None


def generate_pairs(devkit: str | os.PathLike | Source, split: str, pairs_per_object: int | None = None,
                   workers: int | None = None, seed: int = 0, cfg: SamplingConfig | None = None,
                   progress: bool = True) -> PairSet:
    """Simulate click pairs for every usable object of a split (bad images are skipped and counted)."""
    source = open_source(devkit)
    cfg = cfg or SamplingConfig()
    ppo = DEFAULT_PAIRS.get(split, 1) if pairs_per_object is None else int(pairs_per_object)
    if ppo < 1:
        raise IFCNError(f"--pairs-per-object must be at least 1, got {ppo}.")
    workers = (os.cpu_count() or 1) if workers is None or workers < 1 else int(workers)
    ids = source.image_ids(split)
    if not ids:
        raise DatasetError(f"{source}: split {split!r} lists no images.")
    jobs = [(i, ppo, seed, cfg) for i in ids]
    t0 = time.perf_counter()
    bar = dict(total=len(jobs), desc=f"pairs {split}", unit="img", disable=not progress)
    if workers == 1 or len(jobs) < 4:
        _init_worker(source)
        results = [_image_job(j) for j in tqdm(jobs, **bar)]
    else:
        ctx = mp.get_context("spawn" if os.name == "nt" else "fork")
        with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(source,)) as pool:
            chunk = max(1, len(jobs) // (workers * 8))
            results = list(tqdm(pool.imap(_image_job, jobs, chunksize=chunk), **bar))
    all_pairs: list[Pair] = []
    sizes: dict[str, tuple[int, int]] = {}
    totals = {"objects": 0, "kept": 0, "too_small": 0, "no_positive": 0}
    bad = []
    for image_id, shape, pairs, counts, err in results:
        if err is not None:
            bad.append({"image": image_id, "error": err})
            continue
        sizes[image_id] = (int(shape[0]), int(shape[1]))
        all_pairs.extend(pairs)
        for k in totals:
            totals[k] += counts[k]
    summary = {
        "split": split, "images": len(ids), "images_used": len(ids) - len(bad),
        "images_skipped": len(bad), "bad_images": bad[:50],
        "objects": totals["objects"], "objects_kept": totals["kept"],
        "objects_dropped": {"too_small": totals["too_small"], "no_positive": totals["no_positive"]},
        "pairs": len(all_pairs), "pairs_per_object": ppo, "seconds": round(time.perf_counter() - t0, 2),
    }
    meta = {"split": split, "seed": seed, "pairs_per_object": ppo, "sampling": cfg.to_dict(),
            "source": str(getattr(source, "root", getattr(source, "images_dir", "")))}
    return PairSet.from_pairs(all_pairs, sizes, summary, meta)


def export_png(pairs: PairSet, out_dir: str | os.PathLike) -> int:
    """Write every click set as a binary PNG (1 at a click), the reference's form; returns the file count."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counter: dict[tuple[int, int], int] = {}
    n = 0
    for i in range(len(pairs)):
        p = pairs[i]
        key = (int(pairs.pair_image[i]), p.object_id)
        k = counter.get(key, 0)
        counter[key] = k + 1
        h, w = (int(v) for v in pairs.image_sizes[key[0]])
        for kind, xy in (("pos", p.pos_xy), ("neg", p.neg_xy)):
            m = np.zeros((h, w), np.uint8)
            m[xy[:, 1], xy[:, 0]] = 1
            write_index_png(out_dir / f"{p.image_id}_{p.object_id}_{k}_{kind}.png", m)
            n += 1
    return n


def import_png(png_dir: str | os.PathLike, split: str = "", progress: bool = False) -> PairSet:
    """Read PNG click maps named <image_id>_<object_id>_<k>_{pos,neg}.png back into a PairSet.

    The negative strategy is not recorded in the PNG form and is set to 0 (unknown). A pair needs its
    positive map; a missing negative map means no negative clicks.
    """
    png_dir = Path(png_dir)
    if not png_dir.is_dir():
        raise DatasetError(f"{png_dir}: no such folder of PNG click maps.")
    groups: dict[tuple[str, int, int], dict[str, Path]] = {}
    for f in png_dir.iterdir():
        m = _PNG_NAME.match(f.name)
        if m:
            key = (m["image"], int(m["obj"]), int(m["k"]))
            groups.setdefault(key, {})[m["kind"]] = f
    if not groups:
        raise DatasetError(f"{png_dir}: no click maps named <image_id>_<object>_<k>_pos.png found.")
    pairs, sizes, bad = [], {}, []
    for key in tqdm(sorted(groups), desc="import png", disable=not progress):
        image_id, obj, _ = key
        files = groups[key]
        if "pos" not in files:
            bad.append({"file": str(png_dir / f"{image_id}_{obj}_{key[2]}_pos.png"), "error": "missing"})
            continue
        try:
            pos = read_index_png(files["pos"])
            neg = read_index_png(files["neg"]) if "neg" in files else np.zeros_like(pos)
        except ImageReadError as e:
            bad.append({"file": str(files["pos"]), "error": str(e)})
            continue
        if neg.shape != pos.shape:
            bad.append({"file": str(files["neg"]), "error": "size differs from the positive map"})
            continue
        sizes[image_id] = pos.shape
        pxy = np.argwhere(pos > 0)[:, ::-1].astype(np.int32)
        nxy = np.argwhere(neg > 0)[:, ::-1].astype(np.int32)
        pairs.append(Pair(image_id, obj, 0, pxy, nxy))
    summary = {"split": split, "images": len(sizes), "pairs": len(pairs), "bad_files": bad[:50],
               "files_skipped": len(bad), "imported_from": str(png_dir)}
    return PairSet.from_pairs(pairs, sizes, summary, {"split": split, "imported_from": str(png_dir)})


def format_summary(summary: dict) -> str:
    """A few human-readable lines describing a pair set."""
    lines = [f"split {summary.get('split', '?')}: {summary.get('pairs', 0)} pairs"]
    if "objects" in summary:
        dropped = summary.get("objects_dropped", {})
        lines.append(
            f"images {summary['images']} (skipped {summary['images_skipped']}), objects {summary['objects']}: "
            f"kept {summary['objects_kept']}, dropped {dropped.get('too_small', 0)} < min area, "
            f"{dropped.get('no_positive', 0)} without room for a positive click")
    for b in summary.get("bad_images", [])[:10]:
        lines.append(f"  skipped {b['image']}: {b['error']}")
    for b in summary.get("bad_files", [])[:10]:
        lines.append(f"  skipped {b['file']}: {b['error']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn pairs`."""
    src = parser.add_argument_group("source (one of)")
    src.add_argument("--voc-root", help="VOC devkit (VOCdevkit/, VOCdevkit/VOC2012/ or a folder in that layout)")
    src.add_argument("--images", help="folder of images (with --masks) instead of a devkit")
    src.add_argument("--masks", help="folder of instance-index PNGs named like the images")
    src.add_argument("--import-png", metavar="DIR", help="convert the reference's PNG click maps instead")
    parser.add_argument("--split", default="train", help="split file name (train, val, ...)")
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("--pairs-per-object", type=int, default=None,
                        help="pairs per object (default: 15 for train, 1 otherwise)")
    parser.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--export-png", metavar="DIR", help="also write the pairs as PNG click maps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    c = SamplingConfig()
    parser.add_argument("--min-area", type=int, default=c.min_area, help="drop smaller objects (pixels)")
    parser.add_argument("--band", type=int, default=c.band, help="negative band width d (pixels)")
    parser.add_argument("--d-margin", type=int, default=c.d_margin, help="min distance to the boundary")
    parser.add_argument("--d-step", type=int, default=c.d_step, help="min distance between clicks")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn pairs`."""
    if args.import_png:
        ps = import_png(args.import_png, args.split, progress=not args.no_progress)
    else:
        if args.voc_root:
            source: Source = VOCDevkit(args.voc_root)
        elif args.images and args.masks:
            source = FolderDataset(args.images, args.masks)
        else:
            raise IFCNError("give --voc-root DIR, or --images DIR --masks DIR, or --import-png DIR.")
        try:
            cfg = SamplingConfig(min_area=args.min_area, band=args.band, d_margin=args.d_margin, d_step=args.d_step)
        except ValueError as e:
            raise IFCNError(str(e)) from None
        ps = generate_pairs(source, args.split, args.pairs_per_object, args.workers, args.seed, cfg,
                            progress=not args.no_progress)
    ps.save(args.out)
    print(format_summary(ps.summary))
    print(f"wrote {args.out}")
    if args.export_png:
        n = export_png(ps, args.export_png)
        print(f"wrote {n} PNG click maps to {args.export_png}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="ifcn pairs", description=__doc__.splitlines()[0])
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
