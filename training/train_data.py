"""The data of a training run: the train/validation datasets (VOC devkit or object folders) and their loaders."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from models.errors import DatasetError, IFCNError
from models.spec import ModelSpec
from training.train_config import TrainConfig
from training.train_runtime import DistEnv, ResumableSampler, worker_init


def make_datasets(cfg: TrainConfig, spec: ModelSpec, main: bool):
    """(train dataset, val dataset or None) built by training.datasets."""
    from training.augment import AugmentConfig
    from training.datasets import make_dataset

    try:
        aug = AugmentConfig(cfg.scale_min, cfg.scale_max, base_size=cfg.base_size, zoom_prob=cfg.zoom_prob,
                            colour_prob=cfg.colour_prob, paste_prob=cfg.paste_prob)
    except ValueError as e:
        raise IFCNError(f"--scale-min/--scale-max/--base-size/--zoom-prob/--colour-prob/--paste-prob: {e}") from None
    if cfg.paste_prob > 0 and not cfg.data:
        raise IFCNError("--paste-prob needs object folders (--data): a VOC devkit's items are pairs of clicks "
                        "drawn on the stored image.")
    if cfg.area_power > 0 and not cfg.data:
        raise IFCNError("--area-power needs object folders (--data): a VOC devkit's items are drawn by pair.")
    if cfg.data:
        return object_datasets(cfg, spec, aug, main)
    if not cfg.voc_root:
        raise DatasetError("no data: give --voc-root DIR (a VOC devkit) or --data DIR (object folders).")
    train_ds = make_dataset(cfg.voc_root, cfg.train_split, cfg.data_mode, spec, pairs_file=cfg.pairs,
                            crop_size=cfg.crop_size, augment=cfg.augment, seed=cfg.seed, aug=aug)
    if len(train_ds) == 0:
        raise DatasetError(f"{cfg.voc_root}: the {cfg.train_split!r} split gave no training samples.")
    val_ds = None
    if cfg.val_split:
        try:
            val_ds = make_dataset(cfg.voc_root, cfg.val_split, "pairs" if cfg.val_pairs else "random",
                                  spec, pairs_file=cfg.val_pairs, crop_size=cfg.crop_size,
                                  augment=False, seed=cfg.seed + 1)
        except DatasetError as e:
            if main:
                print(f"warning: no validation ({e})", file=sys.stderr)
            val_ds = None
        if val_ds is not None and cfg.val_limit is not None:
            val_ds = torch.utils.data.Subset(val_ds, range(min(cfg.val_limit, len(val_ds))))
        if val_ds is not None and len(val_ds) == 0:
            val_ds = None
    return train_ds, val_ds


def object_datasets(cfg: TrainConfig, spec: ModelSpec, aug: Any, main: bool):
    """(train, val) over object folders sampled by source (training.object_dataset)."""
    from training.layouts import open_object_sources
    from training.object_dataset import ObjectClickDataset

    if cfg.voc_root:
        raise DatasetError("give either --voc-root or --data, not both.")
    if cfg.pairs or cfg.data_mode != "random":
        raise DatasetError("object folders (--data) sample clicks on the fly: drop --pairs/--mode.")
    sources = open_object_sources(list(cfg.data))
    if main:
        for folder, weight in sources:
            print(f"data: {folder.describe()}; weight {weight:g}", file=sys.stderr)
    train_ds = ObjectClickDataset(sources, cfg.train_split, spec, crop_size=cfg.crop_size,
                                  augment=cfg.augment, seed=cfg.seed, aug=aug, area_power=cfg.area_power)
    val_ds = None
    if cfg.val_split:
        try:
            val_ds = ObjectClickDataset(sources, cfg.val_split, spec, crop_size=cfg.crop_size,
                                        augment=False, seed=cfg.seed + 1)
        except DatasetError as e:
            if main:
                print(f"warning: no validation ({e})", file=sys.stderr)
        if val_ds is not None and cfg.val_limit is not None:
            val_ds = torch.utils.data.Subset(val_ds, range(min(cfg.val_limit, len(val_ds))))
    if main:
        print(f"train: {train_ds.describe()}", file=sys.stderr)
    return train_ds, val_ds


@dataclass
class Loaders:
    """How the training data is drawn: sampler, step counts, and the validation loader (or None)."""

    train_ds: Dataset
    sampler: ResumableSampler
    generator: torch.Generator
    drop_last: bool
    steps_per_epoch: int
    total_steps: int
    val_loader: DataLoader | None
    loader_kw: dict[str, Any] = field(default_factory=dict)

    def epoch_loader(self, epoch: int, batch_in_epoch: int, batch_size: int) -> DataLoader:
        """The loader of `epoch`, skipping the `batch_in_epoch` batches already done (a resumed run)."""
        self.sampler.set_epoch(epoch)
        if hasattr(self.train_ds, "set_epoch"):
            self.train_ds.set_epoch(epoch)  # new augmentation / click draws each epoch
        self.sampler.skip = batch_in_epoch * batch_size
        return DataLoader(self.train_ds, batch_size=batch_size, sampler=self.sampler, drop_last=self.drop_last,
                          generator=self.generator, **self.loader_kw)


def make_loaders(cfg: TrainConfig, train_ds: Dataset, val_ds: Dataset | None, dist_env: DistEnv,
                 device: torch.device) -> Loaders:
    """Samplers and loaders sharded over the torchrun processes, and the run's step counts."""
    per_rank = math.ceil(len(train_ds) / dist_env.world)
    drop_last = per_rank >= cfg.batch_size
    sampler = ResumableSampler(train_ds, dist_env.world, dist_env.rank, shuffle=True, seed=cfg.seed)
    g = torch.Generator()
    g.manual_seed(cfg.seed + 7919 * dist_env.rank)
    loader_kw: dict[str, Any] = dict(num_workers=max(0, cfg.workers), pin_memory=device.type == "cuda",
                                     worker_init_fn=worker_init)
    if cfg.workers > 0:
        loader_kw["persistent_workers"] = False
    steps_per_epoch = (per_rank // cfg.batch_size) if drop_last else math.ceil(per_rank / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps) if cfg.epochs > 0 else cfg.max_steps
    val_loader = None
    if val_ds is not None:
        val_sampler = DistributedSampler(val_ds, num_replicas=dist_env.world, rank=dist_env.rank,
                                         shuffle=False) if dist_env.enabled else None
        val_loader = DataLoader(val_ds, batch_size=cfg.batch_size, shuffle=False, sampler=val_sampler,
                                **loader_kw)
    return Loaders(train_ds, sampler, g, drop_last, steps_per_epoch, total_steps, val_loader, loader_kw)
