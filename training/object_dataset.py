"""Training items from object folders (real photos, one mask per object), sampled by source.

Each item is one object of one image; clicks are simulated on the fly (the paper's three strategies,
`training.sampling`), 128-valued mask pixels are void (no loss, no click) and the image's other objects
are strategy 2's negatives. With several sources, every epoch draws its items source by source in
proportion to the sources' weights (not uniformly by object, so a source with many masks does not
crowd out the others); the draw depends on (seed, epoch) only. With `area_power` P > 0 the objects of a
source are drawn with probability proportional to (area at the network's 512-px scale, DEFAULT_NET_SIZE)^-P, so small
objects, which need the most clicks, are seen more often (P = 0: uniformly, without repetition).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Dataset

from models.errors import DatasetError
from models.regions import DEFAULT_NET_SIZE
from models.spec import ModelSpec
from training import copy_paste
from training.augment import AugmentConfig
from training.datasets import ClickDataset
from training.layouts import ObjectFolder, usable
from training.sampling import SamplingConfig
from training.voc import SAMPLE_ERRORS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _ObjItem:
    image_id: str
    object_id: int  # the label of the object in the item's label map (always 1)
    source: int
    k: int
    pairs: tuple[int, ...] = ()
    area: float = 0.0  # the object's area in pixels with the photo's longest side at DEFAULT_NET_SIZE


class ObjectClickDataset(ClickDataset):
    """Items: dict(input, target, ignore) like ClickDataset, from weighted object folders."""

    def __init__(self, sources: list[tuple[ObjectFolder, float]], split: str, spec: ModelSpec,
                 crop_size: int = 320, augment: bool = True, seed: int = 0,
                 sampling: SamplingConfig | None = None, aug: AugmentConfig | None = None,
                 epoch_size: int | None = None, area_power: float = 0.0) -> None:
        Dataset.__init__(self)
        if not 0.0 <= float(area_power) <= 2.0:
            raise DatasetError(f"area power must be in [0, 2], got {area_power}.")
        self.area_power = float(area_power)
        if not sources:
            raise DatasetError("no object folder given.")
        if crop_size < 8:
            raise DatasetError(f"crop size must be at least 8 pixels, got {crop_size}.")
        self.sources = [s for s, _ in sources]
        total_w = float(sum(w for _, w in sources))
        self.weights = [w / total_w for _, w in sources]
        self.source = self.sources[0]
        self.split, self.mode, self.spec, self.pairs = split, "random", spec, None
        self.crop_size, self.augment, self.seed, self.epoch = int(crop_size), augment, int(seed), 0
        self.sampling = sampling or SamplingConfig()
        self.aug = aug or AugmentConfig()
        self.fill_rgb = tuple(int(round(255 * m)) for m in spec.mean)
        self.skipped, self.skipped_reasons = 0, []
        self.items = self._scan_objects()
        self.by_source = [np.array([i for i, it in enumerate(self.items) if it.source == s], np.int64)
                          for s in range(len(self.sources))]
        empty = [self.sources[s].name for s, idx in enumerate(self.by_source) if len(idx) == 0]
        if not self.items:
            why = "; ".join(self.skipped_reasons[:3])
            raise DatasetError(f"split {split!r} of {', '.join(s.name for s in self.sources)} gave no usable "
                               "object" + (f" ({why})" if why else "") + ".")
        if empty:  # a source without objects in this split gets no share
            keep = [s for s, idx in enumerate(self.by_source) if len(idx)]
            w = sum(self.weights[s] for s in keep)
            self.weights = [self.weights[s] / w if s in keep else 0.0 for s in range(len(self.sources))]
            log.warning("no usable object in split %r of %s", split, ", ".join(empty))
        self.epoch_size = int(epoch_size) if epoch_size else len(self.items)
        self._map = self._draw(0)

    def _scan_objects(self) -> list[_ObjItem]:
        items: list[_ObjItem] = []
        cfg = self.sampling
        for s, folder in enumerate(self.sources):
            for image_id in folder.image_ids(self.split):
                try:
                    for k, obj, ign in folder.load_masks(image_id):
                        if usable(obj, ign, cfg.min_area, cfg.d_margin):
                            scale = DEFAULT_NET_SIZE / max(obj.shape)
                            items.append(_ObjItem(image_id, 1, s, k, area=float(obj.sum()) * scale * scale))
                except SAMPLE_ERRORS as e:
                    self._skip(str(e))
        return items

    def _draw(self, epoch: int) -> np.ndarray:
        """Item indices of an epoch: each source's share drawn without repetition where it can be."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, 7]))
        counts = rng.multinomial(self.epoch_size, self.weights) if len(self.sources) > 1 \
            else np.array([self.epoch_size])
        parts = []
        for idx, n in zip(self.by_source, counts):
            if n == 0 or len(idx) == 0:
                continue
            if self.area_power > 0:
                p = self._object_weights(idx)
                parts.append(rng.choice(idx, size=int(n), replace=True, p=p))
                continue
            reps = -(-int(n) // len(idx))
            pool = np.concatenate([rng.permutation(idx) for _ in range(reps)])
            parts.append(pool[:n])
        out = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return rng.permutation(out)

    def _object_weights(self, idx: np.ndarray) -> np.ndarray:
        """Draw probabilities of a source's objects: proportional to area^-area_power (areas of at least 1 px)."""
        areas = np.array([max(self.items[int(i)].area, 1.0) for i in idx], np.float64)
        w = areas ** -self.area_power
        return w / w.sum()

    def __len__(self) -> int:
        return self.epoch_size

    def set_epoch(self, epoch: int) -> None:
        """New click draws and a new by-source draw of objects."""
        self.epoch = int(epoch)
        self._map = self._draw(self.epoch)

    def _item_at(self, index: int) -> _ObjItem:
        return self.items[int(self._map[index % len(self._map)])]

    def _load(self, item: _ObjItem) -> tuple[np.ndarray, np.ndarray]:
        return self.sources[item.source].load_object(item.image_id, item.k)

    def _scene(self, item: _ObjItem, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The item's photo, with another object of the split pasted on it for a share `aug.paste_prob` of the
        training items (`training.copy_paste`)."""
        rgb, labels = self._load(item)
        if not (self.augment and self.aug.paste_prob > 0 and rng.random() < self.aug.paste_prob):
            return rgb, labels
        pool = self.by_source[int(rng.choice(len(self.sources), p=self.weights))]  # weight 0 where empty
        donor_item = self.items[int(pool[int(rng.integers(len(pool)))])]
        if donor_item.image_id == item.image_id and donor_item.source == item.source:
            return rgb, labels  # an object of the same photo: nothing new
        folder = self.sources[donor_item.source]
        try:
            donor = copy_paste.Donor(folder.load_rgb(donor_item.image_id),
                                     folder.read_mask(donor_item.image_id, donor_item.k)[0])
        except SAMPLE_ERRORS as e:
            log.warning("no copy-paste from an unreadable sample: %s", e)
            return rgb, labels
        if donor.mask.shape != donor.rgb.shape[:2]:
            log.warning("no copy-paste from %s: its mask %s is not the size of its image", donor_item.image_id,
                        donor_item.k)
            return rgb, labels
        cfg = self.sampling
        return copy_paste.paste(rgb, labels, donor, rng, usable_target=lambda m: usable(
            m == copy_paste.TARGET, m == copy_paste.VOID, cfg.min_area, cfg.d_margin))

    def source_counts(self) -> dict[str, int]:
        """Items of the current epoch per source name."""
        names = [self.sources[self.items[int(i)].source].name for i in self._map]
        return {s.name: names.count(s.name) for s in self.sources}

    def describe(self) -> dict:
        return {"split": self.split, "mode": "random", "items": len(self), "objects": len(self.items),
                "skipped": self.skipped, "augment": self.augment, "crop_size": self.crop_size,
                "area_power": self.area_power,
                "sources": {s.name: {"objects": int(len(self.by_source[i])), "weight": round(self.weights[i], 4)}
                            for i, s in enumerate(self.sources)}}
