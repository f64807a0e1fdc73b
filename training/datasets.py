"""Training datasets of (5-channel input, target mask, ignore mask) in the three loading modes.

- ``image``: one item per image, one of its pre-generated pairs drawn at random;
- ``pairs``: one item per pre-generated pair (the reference's choice);
- ``random``: one item per usable object, clicks simulated on the fly (no pre-generation).

The input is built by the core's single click encoding (`models.inputs.make_input`). Randomness of an
item depends on (seed, epoch, index) only, so results do not depend on DataLoader workers; call
`set_epoch` at the start of every epoch to get new draws (like DistributedSampler).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from models.clicks import clicks_from_arrays
from models.errors import DatasetError
from models.inputs import make_input
from models.spec import ModelSpec
from training import augment
from training.augment import AugmentConfig
from training.pairs import PairSet
from training.sampling import STRATEGIES, ObjectSampler, SamplingConfig
from training.voc import SAMPLE_ERRORS, VOID, Source, instances, open_source

log = logging.getLogger(__name__)

MODES = ("image", "pairs", "random")
_RETRIES = 8


@dataclass(frozen=True)
class _Item:
    image_id: str
    object_id: int
    pairs: tuple[int, ...] = ()  # pair indices (empty in random mode)


class ClickDataset(Dataset):
    """Items: dict(input=(5,S,S) float32, target=(1,S,S) float32, ignore=(1,S,S) float32), S = crop_size."""

    def __init__(self, source: Source, split: str, mode: str, spec: ModelSpec, pairs: PairSet | None = None,
                 crop_size: int = 320, augment: bool = True, seed: int = 0,
                 sampling: SamplingConfig | None = None, aug: AugmentConfig | None = None) -> None:
        if mode not in MODES:
            raise DatasetError(f"unknown dataset mode {mode!r}: use one of {', '.join(MODES)}.")
        if mode != "random" and pairs is None:
            raise DatasetError(
                f"mode {mode!r} needs pre-generated pairs: run `ifcn pairs --split {split}` and pass the "
                "file, or use mode 'random'.")
        if crop_size < 8:
            raise DatasetError(f"crop size must be at least 8 pixels, got {crop_size}.")
        self.source, self.split, self.mode, self.spec = source, split, mode, spec
        self.pairs = pairs
        self.crop_size = int(crop_size)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.sampling = sampling or SamplingConfig()
        self.aug = aug or AugmentConfig()
        self.fill_rgb = tuple(int(round(255 * m)) for m in spec.mean)
        self.skipped = 0
        self.skipped_reasons: list[str] = []
        self.items: list[_Item] = self._scan()
        if not self.items:
            why = "; ".join(self.skipped_reasons[:3])
            raise DatasetError(f"{source}: split {split!r} gave no usable sample in mode {mode!r}"
                               + (f" ({why})" if why else "") + ".")

    # -- index ---------------------------------------------------------------------------------------
    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons.append(reason)
        log.warning("skipping: %s", reason)

    def _scan(self) -> list[_Item]:
        ids = self.source.image_ids(self.split)
        if self.mode == "random":
            return self._scan_random(ids)
        by_image = self.pairs.indices_by_image()
        wanted = [i for i in ids if i in by_image]
        if not wanted:
            raise DatasetError(
                f"the pairs file holds no image of split {self.split!r} "
                f"(it was made for split {self.pairs.meta.get('split', '?')!r}).")
        items: list[_Item] = []
        for image_id in wanted:
            try:
                self.source.check(image_id)
                objects = self.source.load_objects(image_id)
            except SAMPLE_ERRORS as e:
                self._skip(str(e))
                continue
            if objects.shape != self.pairs.image_size(image_id):
                self._skip(f"{image_id}: mask size {objects.shape} differs from the size the pairs were "
                           f"made for {self.pairs.image_size(image_id)}; regenerate the pairs.")
                continue
            idx = by_image[image_id]
            if self.mode == "image":
                items.append(_Item(image_id, -1, tuple(int(i) for i in idx)))
            else:
                items.extend(_Item(image_id, int(self.pairs.pair_object[i]), (int(i),)) for i in idx)
        return items

    def _scan_random(self, ids: list[str]) -> list[_Item]:
        items: list[_Item] = []
        cfg = self.sampling
        for image_id in ids:
            try:
                self.source.check(image_id)
                objects = self.source.load_objects(image_id)
            except SAMPLE_ERRORS as e:
                self._skip(str(e))
                continue
            void = objects == VOID
            for obj_id, mask in instances(objects):
                if mask.sum() >= cfg.min_area and ObjectSampler(mask, None, void, cfg).can_sample:
                    items.append(_Item(image_id, obj_id))
        return items

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of an epoch (augmentation, pair choice, on-the-fly clicks)."""
        self.epoch = int(epoch)

    # -- items ---------------------------------------------------------------------------------------
    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index]))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        last: Exception | None = None
        for k in range(_RETRIES):
            i = (index + k) % len(self)
            try:
                return self._build(self._item_at(i), self._rng(i))
            except SAMPLE_ERRORS as e:  # e.g. a corrupt JPEG only noticed when decoding
                log.warning("skipping unreadable sample: %s", e)
                last = e
        raise DatasetError(f"{_RETRIES} samples in a row could not be read; last error: {last}")

    def clicks_for(self, item: _Item, objects: np.ndarray, rng: np.random.Generator):
        """(object_id, pos_xy, neg_xy) for an item, drawn or looked up."""
        if self.mode == "random":
            mask = objects == item.object_id
            void = objects == VOID
            others = np.where(mask | void, 0, objects).astype(np.int32)
            strategy = int(rng.choice(STRATEGIES))
            pos, neg = ObjectSampler(mask, others, void, self.sampling).pair(strategy, rng)
            return item.object_id, pos, neg
        p = item.pairs[int(rng.integers(len(item.pairs)))] if len(item.pairs) > 1 else item.pairs[0]
        pair = self.pairs[p]
        return pair.object_id, pair.pos_xy, pair.neg_xy

    def arrays(self, index: int) -> dict:
        """Item `index` before encoding: rgb (S,S,3), labels (S,S), object_id, pos_xy, neg_xy (crop coordinates)."""
        return self._arrays(self._item_at(index), self._rng(index))

    def _item_at(self, index: int) -> _Item:
        """The item behind a sampler index (subclasses may remap indices per epoch)."""
        return self.items[index]

    def _load(self, item: _Item) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, label map) of an item's image: instance ids, 255 = void."""
        sample = self.source.load(item.image_id)
        return sample.rgb, sample.objects

    def _scene(self, item: _Item, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(rgb, label map) an item is trained on: its image's (subclasses may change the scene)."""
        return self._load(item)

    def _arrays(self, item: _Item, rng: np.random.Generator) -> dict:
        rgb, objects = self._scene(item, rng)
        obj_id, pos, neg = self.clicks_for(item, objects, rng)
        h, w = objects.shape
        pos, neg = _inside(pos, w, h), _inside(neg, w, h)
        if self.augment:
            rgb, labels, pos, neg = augment.random_transform(
                rgb, objects, pos, neg, self.crop_size, rng, self.aug, self.fill_rgb, object_id=obj_id)
        else:
            rgb, labels, pos, neg = augment.fit(rgb, objects, pos, neg, self.crop_size, self.fill_rgb)
        return {"rgb": rgb, "labels": labels, "object_id": obj_id, "pos_xy": pos, "neg_xy": neg}

    def _build(self, item: _Item, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        a = self._arrays(item, rng)
        x = make_input(a["rgb"], clicks_from_arrays(a["pos_xy"], a["neg_xy"]), self.spec)
        target = (a["labels"] == a["object_id"]).astype(np.float32)[None]
        ignore = (a["labels"] == VOID).astype(np.float32)[None]
        return {"input": torch.from_numpy(x), "target": torch.from_numpy(target),
                "ignore": torch.from_numpy(ignore)}

    def describe(self) -> dict:
        """Counts for logs: mode, items, skipped images."""
        return {"split": self.split, "mode": self.mode, "items": len(self), "skipped": self.skipped,
                "augment": self.augment, "crop_size": self.crop_size}


def _inside(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    xy = np.asarray(xy, np.int32).reshape(-1, 2)
    return xy[(xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)]


def make_dataset(voc_root: str | os.PathLike | Source, split: str, mode: str, spec: ModelSpec,
                 pairs_file: str | os.PathLike | PairSet | None = None, crop_size: int = 320,
                 augment: bool = True, seed: int = 0, sampling: SamplingConfig | None = None,
                 aug: AugmentConfig | None = None) -> ClickDataset:
    """A ClickDataset over a VOC devkit (or FolderDataset) split in one of the modes image|pairs|random."""
    source = open_source(voc_root)
    pairs = PairSet.load(pairs_file) if isinstance(pairs_file, (str, os.PathLike)) else pairs_file
    return ClickDataset(source, split, mode, spec, pairs, crop_size, augment, seed, sampling, aug)
