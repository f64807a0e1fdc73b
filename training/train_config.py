"""The settings of a training run (`ifcn train`'s options as a dataclass) and what a run ended with."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models.backbones import BACKBONES

#: Exit code of `ifcn train` when a signal stopped the run (last.pt saved, resumable).
EXIT_STOPPED = 130
#: Default backbone: EfficientNet-Lite0, whose ImageNet weights ship with the install (no download).
DEFAULT_BACKBONE = "efficientnet_lite0" if "efficientnet_lite0" in BACKBONES else "resnet18"


@dataclass
class TrainConfig:
    """All settings of a training run (the CLI options, as a plain dataclass)."""

    voc_root: str | None
    out: str
    data: tuple[str, ...] = ()  # object folders / collections, each 'PATH' or 'PATH:WEIGHT'
    scale_min: float = 0.75
    scale_max: float = 1.25
    base_size: int | None = None  # random scale relative to the image at this longest side (None: as stored)
    zoom_prob: float = 0.0  # share of items seen zoomed in on their object (training.augment)
    colour_prob: float = 0.0  # probability of each of RITM's photometric changes (training.augment.photometric)
    paste_prob: float = 0.0  # share of items with another photo's object pasted on (training.copy_paste)
    area_power: float = 0.0  # object folders: draw objects with probability ~ area^-P (training.object_dataset)
    freeze_bn: bool = False  # BatchNorm layers normalise with their running statistics and keep them (train_step)
    pairs: str | None = None
    mode: str | None = None  # None: "pairs" with a pairs file, else "random"
    train_split: str = "train"
    backbone: str = DEFAULT_BACKBONE
    stride: int = 8
    upsample: str = "deconv"
    extra_init: str = "mean"
    init_checkpoint: str | None = None
    weights: str | None = "imagenet"
    allow_download: bool = False
    epochs: int = 20
    max_steps: int | None = None
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-5
    crop_size: int = 320
    augment: bool = True
    workers: int = 2
    device: str = "auto"
    resume: bool = False
    seed: int = 0
    amp: bool | None = None  # None: on for CUDA
    val_split: str | None = "val"
    val_pairs: str | None = None
    val_limit: int | None = None
    val_every: int | None = None
    val_clicks: int = 0  # validate after this many oracle corrective clicks (0: the sampled clicks only)
    snapshots: bool = False  # also keep the model at every validation: snapshots/step<N>.pt (for ifcn average)
    progress_json: bool = False
    progress_every: int = 1
    show_bar: bool = True
    iterative: int = 0  # up to N simulated corrective clicks per batch (RITM-style); 0 = the paper's
    iterative_prob: float = 0.8
    iterative_single: float = 0.3
    iterative_refine: bool = False  # corrective clicks on the annotator's refined mask (training.iterative)
    prev_mask: bool = False  # give the model the previous-mask input (a 5-channel init checkpoint is widened)
    loss: str = "bce"  # training.step.LOSSES: "bce" (the paper's) or "nfl" (RITM's normalized focal loss)
    click_weight: float = 1.0  # the loss of pixels within click_radius px of a click times this (training.step)
    click_radius: float = 10.0
    teachers: tuple[str, ...] = ()  # checkpoints whose mean prediction is a soft target (training.distill)
    distill_weight: float = 0.5  # the share of the loss that is the BCE towards the teachers' target

    @property
    def data_mode(self) -> str:
        """The loading mode actually used."""
        return self.mode or ("pairs" if self.pairs else "random")


@dataclass
class TrainResult:
    """What a run ended with."""

    status: str  # "completed" | "stopped"
    steps: int
    epoch: int
    seconds: float
    best_val_iou: float | None
    last_val_iou: float | None
    last_path: Path | None
    best_path: Path | None
    losses: list[float] = field(default_factory=list)
    val_history: list[tuple[int, float]] = field(default_factory=list)


def plain_config(cfg: TrainConfig) -> dict[str, Any]:
    """The settings as a dict without unset (None) values, as stored in a checkpoint."""
    return {k: v for k, v in asdict(cfg).items() if v is not None}
