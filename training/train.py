"""Training an iFCN (`ifcn train`): Adam + BCE-with-logits over non-void pixels, reference settings.

Writes RUN_DIR/last.pt (resumable: optimiser, step, epoch, RNG states in the checkpoint's `extra`) and
RUN_DIR/best.pt (best validation IoU) in the core checkpoint format. Ctrl+C or SIGTERM finishes the
current step, saves last.pt and exits with status "stopped" (exit code 130). Multi-GPU: launch with
`torchrun --nproc_per_node=N -m models.cli train ...`; each process finds LOCAL_RANK/WORLD_SIZE in its
environment, wraps the model in DistributedDataParallel and shards data with a DistributedSampler;
rank 0 alone writes files and logs.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from models.backbones import BACKBONES, spec_for
from models.checkpoint import load_checkpoint, save_checkpoint
from models.device import resolve_device
from models.errors import CheckpointError, DatasetError, IFCNError
from models.fcn import build_ifcn
from models.metrics import iou
from models.spec import ModelSpec
from training.iterative import IterativeConfig, simulate
from training.progress import ProgressWriter

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
    progress_json: bool = False
    progress_every: int = 1
    show_bar: bool = True
    iterative: int = 0  # up to N simulated corrective clicks per batch (RITM-style); 0 = the paper's
    iterative_prob: float = 0.8
    iterative_single: float = 0.3

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


# ----------------------------------------------------------------------------- pieces

def masked_bce(logits: torch.Tensor, target: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """Per-pixel BCE-with-logits averaged over pixels where `ignore` is 0 (VOC void excluded)."""
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    valid = 1.0 - ignore.float()
    return (per_pixel * valid).sum() / valid.sum().clamp_min(1.0)


def _cpu_bf16_supported() -> bool:
    """True where the CPU runs bf16 natively (oneDNN reports AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               device: torch.device, scaler: torch.amp.GradScaler | None = None,
               autocast: Callable[[], Any] = nullcontext, channels_last: bool = False) -> float:
    """One optimiser step on `batch` (dict of input/target/ignore tensors); returns the loss."""
    x = batch["input"].to(device, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = batch["target"].to(device, non_blocking=True)
    ignore = batch["ignore"].to(device, non_blocking=True)
    with autocast():
        logits = net(x)
    loss = masked_bce(logits, target, ignore)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return float(loss.detach())


class _Stop:
    """Stop request from SIGINT/SIGTERM (main thread only) or from Python (`request()`)."""

    def __init__(self, external: threading.Event | None = None) -> None:
        self.external = external
        self.reason: str | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl+C: give up at once
        self.reason = signal.Signals(signum).name
        print(f"\n{self.reason} received: finishing this step and saving last.pt "
              "(Ctrl+C again to abort without saving)", file=sys.stderr, flush=True)

    def request(self, reason: str = "requested") -> None:
        self.reason = reason

    @property
    def set(self) -> bool:
        if self.external is not None and self.external.is_set() and self.reason is None:
            self.reason = "requested"
        return self.reason is not None


class ResumableSampler(DistributedSampler):
    """DistributedSampler (also for one process) that can skip the samples already seen this epoch."""

    def __init__(self, dataset: Any, num_replicas: int, rank: int, shuffle: bool, seed: int,
                 drop_last: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.skip = 0

    def __iter__(self):
        indices = list(super().__iter__())
        return iter(indices[self.skip:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.skip)


def _worker_init(worker_id: int) -> None:
    # The main process decides when to stop: a Ctrl+C or a SIGTERM sent to the whole process group
    # (a terminal, `kill -- -PGID`, a service manager) must not kill a data worker under it, or the
    # main process dies of the worker's death instead of saving last.pt. Workers still end with the
    # main process (PyTorch's parent watchdog), and SIGKILL still kills them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    """RNG states as tensors/numbers/lists only (weights_only-safe)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": {"version": int(py_state[0]), "state": list(py_state[1])},
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    if not state:
        return
    try:
        torch.set_rng_state(state["torch"].cpu())
        n = state["numpy"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                             n["has_gauss"], n["cached"]))
        p = state["python"]
        random.setstate((p["version"], tuple(p["state"]), None))
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        print(f"warning: could not restore RNG states ({e}); continuing", file=sys.stderr)


class _Dist:
    """torchrun environment: rank, world size, local device."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def init(self, device: torch.device) -> torch.device:
        if not self.enabled:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if `flag` is true on any rank."""
        if not self.enabled:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        if not self.enabled:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _make_datasets(cfg: TrainConfig, spec: ModelSpec, main: bool):
    """(train dataset, val dataset or None) built by training.datasets."""
    from training.augment import AugmentConfig
    from training.datasets import make_dataset

    try:
        aug = AugmentConfig(cfg.scale_min, cfg.scale_max)
    except ValueError as e:
        raise IFCNError(f"--scale-min/--scale-max: {e}") from None
    if cfg.data:
        return _object_datasets(cfg, spec, aug, main)
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


def _object_datasets(cfg: TrainConfig, spec: ModelSpec, aug: Any, main: bool):
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
                                  augment=cfg.augment, seed=cfg.seed, aug=aug)
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


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader, device: torch.device,
             autocast: Callable[[], Any] = nullcontext, channels_last: bool = False) -> tuple[float, int]:
    """(sum of per-object IoU, number of objects) over `loader`, void pixels ignored."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch in loader:
            x = batch["input"].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = model(x)
            pred = (logits.float() > 0).cpu().numpy()
            gt = batch["target"].numpy() > 0.5
            ign = batch["ignore"].numpy() > 0.5
            for i in range(pred.shape[0]):
                total += iou(pred[i, 0], gt[i, 0], ign[i, 0])
                count += 1
    finally:
        model.train(was_training)
    return total, count


def _plain_config(cfg: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(cfg).items() if v is not None}


# ----------------------------------------------------------------------------- the run

def train(config: TrainConfig, progress: ProgressWriter | None = None,
          stop_event: threading.Event | None = None) -> TrainResult:
    """Run (or resume) training as configured; returns how it ended. IFCNError for user errors."""
    cfg = config
    dist_env = _Dist()
    main = dist_env.main
    progress = progress if (progress is not None and main) else ProgressWriter(
        enabled=cfg.progress_json and main)
    run_dir = Path(cfg.out)
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"
    stop = _Stop(stop_event)
    t_start = time.perf_counter()
    try:
        device = dist_env.init(resolve_device(cfg.device))
        return _train(cfg, dist_env, device, progress, stop, run_dir, last_path, best_path, t_start)
    except Exception as e:  # the stream tells a watching GUI why the run ended, then it propagates
        message = str(e) if isinstance(e, IFCNError) else f"{type(e).__name__}: {e}"
        progress.emit("error", message=message)
        progress.emit("end", status="failed", best_val_iou=None, steps=0,
                      seconds=time.perf_counter() - t_start)
        raise
    finally:
        stop.uninstall()
        dist_env.close()


def _train(cfg: TrainConfig, dist_env: _Dist, device: torch.device, progress: ProgressWriter,
           stop: _Stop, run_dir: Path, last_path: Path, best_path: Path, t_start: float) -> TrainResult:
    main = dist_env.main
    if cfg.batch_size < 1:
        raise IFCNError("--batch-size must be at least 1.")
    try:
        iterative = IterativeConfig(cfg.iterative, cfg.iterative_prob, cfg.iterative_single)
    except ValueError as e:
        raise IFCNError(f"--iterative options: {e}") from None
    if cfg.resume and not last_path.is_file():
        raise CheckpointError(f"{last_path}: nothing to resume (no last.pt); drop --resume to start a new run.")
    if not cfg.resume and last_path.is_file():
        raise IFCNError(f"{run_dir} already holds a run (last.pt). Use --resume to continue it, "
                        "or choose another --out folder.")

    _seed_everything(cfg.seed + dist_env.rank)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # Mixed precision: on by default on CUDA (bf16 where supported, else fp16 + GradScaler); on the
    # CPU only when asked (--amp), as bf16 autocast, where the CPU has native bf16 (AVX512-BF16/AMX).
    use_amp = (device.type == "cuda") if cfg.amp is None else bool(cfg.amp) and (
        device.type == "cuda" or (device.type == "cpu" and _cpu_bf16_supported()))
    if cfg.amp and not use_amp:
        print(f"--amp ignored: no mixed precision on {device.type} here", file=sys.stderr)
    amp_dtype = torch.bfloat16 if (use_amp and (device.type == "cpu" or torch.cuda.is_bf16_supported())) \
        else torch.float16
    # channels_last: faster convs on CUDA, and on CPU 2.5x faster depthwise convs (EfficientNet-Lite)
    channels_last = device.type in ("cuda", "cpu")

    # model, optimiser, resume state
    extra: dict[str, Any] = {}
    resumed_meta: dict[str, Any] = {}
    if cfg.resume:
        loaded = load_checkpoint(last_path, map_location="cpu")
        model, spec, extra, resumed_meta = loaded.model, loaded.spec, loaded.extra, loaded.meta
    elif cfg.init_checkpoint:
        loaded = load_checkpoint(cfg.init_checkpoint, map_location="cpu")
        model, spec = loaded.model, loaded.spec
    else:
        try:
            spec = spec_for(cfg.backbone, stride=cfg.stride, upsample=cfg.upsample,
                            extra_init=cfg.extra_init)
        except ValueError as e:
            raise IFCNError(str(e)) from None
        try:
            model = build_ifcn(spec, weights=cfg.weights, allow_download=cfg.allow_download)
        except IFCNError as e:
            raise IFCNError(f"{e} (Or train from scratch with --weights none.)") from None
    model.train().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and device.type == "cuda" and amp_dtype == torch.float16)
    if extra.get("optimizer"):
        optimizer.load_state_dict(extra["optimizer"])
        for g in optimizer.param_groups:
            g["lr"], g["weight_decay"] = cfg.lr, cfg.weight_decay
    if extra.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(extra["scaler"])
    step = int(extra.get("step", 0))
    epoch = int(extra.get("epoch", 0))
    batch_in_epoch = int(extra.get("batch_in_epoch", 0))
    best_val = extra.get("best_val_iou")
    best_val = float(best_val) if best_val is not None and best_val >= 0 else None
    last_val: float | None = resumed_meta.get("val_iou")
    val_history: list[tuple[int, float]] = []
    if cfg.resume:
        _set_rng_state(extra.get("rng", {}))
    net = model
    if dist_env.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    # data
    train_ds, val_ds = _make_datasets(cfg, spec, main)
    per_rank = math.ceil(len(train_ds) / dist_env.world)
    drop_last = per_rank >= cfg.batch_size
    sampler = ResumableSampler(train_ds, dist_env.world, dist_env.rank, shuffle=True, seed=cfg.seed)
    g = torch.Generator()
    g.manual_seed(cfg.seed + 7919 * dist_env.rank)
    loader_kw: dict[str, Any] = dict(num_workers=max(0, cfg.workers), pin_memory=device.type == "cuda",
                                     worker_init_fn=_worker_init)
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

    def autocast():
        if not use_amp:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=amp_dtype)

    meta_training = {
        "data": str(cfg.voc_root or ",".join(cfg.data)), "scale": [cfg.scale_min, cfg.scale_max], "train_split": cfg.train_split, "val_split": cfg.val_split or "",
        "mode": cfg.data_mode, "pairs": str(cfg.pairs or ""), "crop_size": cfg.crop_size,
        "batch_size": cfg.batch_size, "world_size": dist_env.world, "lr": cfg.lr,
        "weight_decay": cfg.weight_decay, "seed": cfg.seed, "epochs": cfg.epochs,
        "max_steps": cfg.max_steps if cfg.max_steps is not None else -1,
        "weights": str(cfg.weights or "none"), "init_checkpoint": str(cfg.init_checkpoint or ""),
        "train_samples": len(train_ds), "val_samples": len(val_ds) if val_ds is not None else 0,
        "amp": bool(use_amp), "device": str(device), "iterative": cfg.iterative,
        "iterative_prob": cfg.iterative_prob, "iterative_single": cfg.iterative_single,
    }

    saved_at = {"last": -1, "best": -1}

    def save(kind: str, path: Path) -> None:
        if not main or saved_at[kind] == step:
            return
        saved_at[kind] = step
        meta = {"training": meta_training, "epoch": epoch, "steps": step,
                "val_iou": last_val if last_val is not None else -1.0,
                "best_val_iou": best_val if best_val is not None else -1.0,
                "seconds": round(time.perf_counter() - t_start, 3)}
        extra_out = {"optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
                     "batch_in_epoch": batch_in_epoch, "rng": _rng_state(),
                     "best_val_iou": best_val if best_val is not None else -1.0,
                     "config": _plain_config(cfg)}
        if scaler.is_enabled():
            extra_out["scaler"] = scaler.state_dict()
        save_checkpoint(path, model, meta=meta, extra=extra_out if kind == "last" else None)
        progress.emit("checkpoint", path=str(path), kind=kind, step=step)

    def run_validation() -> float | None:
        nonlocal last_val, best_val
        if val_loader is None:
            return None
        total, count = validate(model, val_loader, device, autocast, channels_last)
        total, count = dist_env.sum([total, float(count)], device)
        if count <= 0:
            return None
        last_val = total / count
        val_history.append((step, last_val))
        progress.emit("val", step=step, epoch=epoch, val_iou=last_val, objects=int(count))
        log(f"step {step}: validation IoU {last_val:.4f} over {int(count)} objects")
        if best_val is None or last_val > best_val:
            best_val = last_val
            save("best", best_path)
        return last_val

    bar = None
    if main and cfg.show_bar:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=min(step, total_steps), unit="step", file=sys.stderr,
                   dynamic_ncols=True, desc=spec.name)

    def log(msg: str) -> None:
        if not main:
            return
        if bar is not None:
            bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr)

    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    progress.emit("start", command="train", run_dir=str(run_dir), device=str(device),
                  world_size=dist_env.world, model=spec.to_dict(), train_samples=len(train_ds),
                  val_samples=len(val_ds) if val_ds is not None else 0, steps_per_epoch=steps_per_epoch,
                  total_steps=total_steps, epochs=cfg.epochs, step=step, resumed=bool(cfg.resume))
    log(f"training {spec.name} on {device} ({dist_env.world} process(es)): {len(train_ds)} samples, "
        f"{steps_per_epoch} steps/epoch, steps {step}->{total_steps}")

    stop.install()
    losses: list[float] = []
    validated_at = -1
    status = "completed"
    rate_t, rate_step = time.perf_counter(), step
    ips = 0.0
    while step < total_steps and steps_per_epoch > 0:
        sampler.set_epoch(epoch)
        if hasattr(train_ds, "set_epoch"):
            train_ds.set_epoch(epoch)  # new augmentation / click draws each epoch
        sampler.skip = batch_in_epoch * cfg.batch_size
        loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, drop_last=drop_last,
                            generator=g, **loader_kw)
        epoch_losses: list[float] = []
        stopped = False
        for batch in loader:
            if iterative.enabled:  # the model's own errors get corrective clicks (seeded by step)
                simulate(model, batch, spec, iterative,
                         np.random.default_rng([cfg.seed, dist_env.rank, step]), device, autocast,
                         channels_last)
            loss_v = train_step(net, optimizer, batch, device, scaler, autocast, channels_last)
            step += 1
            batch_in_epoch += 1
            losses.append(loss_v)
            epoch_losses.append(loss_v)
            now = time.perf_counter()
            if now - rate_t > 0:
                inst = (step - rate_step) * cfg.batch_size * dist_env.world / (now - rate_t)
                ips = inst if ips == 0 else 0.8 * ips + 0.2 * inst
            rate_t, rate_step = now, step
            eta = (total_steps - step) * cfg.batch_size * dist_env.world / ips if ips > 0 else None
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_v:.4f}", epoch=epoch)
            if cfg.progress_every > 0 and (step % cfg.progress_every == 0 or step == total_steps):
                progress.emit("step", step=step, epoch=epoch, loss=loss_v,
                              lr=optimizer.param_groups[0]["lr"], images_per_s=round(ips, 3),
                              eta_s=round(eta, 1) if eta is not None else None)
            if cfg.val_every and step % cfg.val_every == 0 and step < total_steps:
                run_validation()
                validated_at = step
                save("last", last_path)
            if dist_env.any(stop.set, device):
                stopped = True
                break
            if step >= total_steps and batch_in_epoch < steps_per_epoch:
                break
        else:  # the epoch ran to its end
            mean_loss = float(np.mean(epoch_losses)) if epoch_losses else None
            val = run_validation() if validated_at != step else last_val
            validated_at = step
            progress.emit("epoch", epoch=epoch, step=step, train_loss=mean_loss, val_iou=val)
            log(f"epoch {epoch} done: mean loss {mean_loss if mean_loss is not None else float('nan'):.4f}")
            epoch += 1
            batch_in_epoch = 0
            save("last", last_path)
        if batch_in_epoch >= steps_per_epoch:  # stopped exactly at an epoch's end
            epoch += 1
            batch_in_epoch = 0
        if stopped:
            status = "stopped"
            break
    if status == "completed" and validated_at != step:
        run_validation()
    save("last", last_path)
    if main and not best_path.is_file() and val_loader is None:
        save("best", best_path)  # no validation data: best is the last state
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t_start
    progress.emit("end", status=status, best_val_iou=best_val, steps=step, seconds=round(seconds, 3))
    if status == "stopped":
        log(f"stopped at step {step} ({stop.reason}); resume with --resume --out {run_dir}")
    else:
        log(f"done: {step} steps in {seconds:.1f} s, best validation IoU "
            f"{best_val if best_val is not None else float('nan'):.4f}; wrote {last_path}")
    return TrainResult(status, step, epoch, seconds, best_val, last_val,
                       last_path if main else None, best_path if main and best_path.is_file() else None,
                       losses, val_history)


# ----------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn train`."""
    d = TrainConfig(voc_root="", out="")
    a = parser.add_argument
    a("--voc-root", help="VOC devkit (VOCdevkit/, VOC2012/ or a folder with that layout)")
    a("--data", action="append", default=[], metavar="DIR[:WEIGHT]",
      help="instead of --voc-root: an object folder (images/ + masks/<stem>_<k>.png, 128 = ignore) or a "
           "folder of them, one per source; repeat for several. Items are drawn by source, in proportion "
           "to the weights (default 1 each), not uniformly by object. Splits: train / val (a fixed 10 %% "
           "of each source's images) / all")
    a("--scale-min", type=float, default=d.scale_min, help=f"random scale range, low end (default {d.scale_min})")
    a("--scale-max", type=float, default=d.scale_max, help=f"random scale range, high end (default {d.scale_max})")
    a("--out", required=True, help="run folder: last.pt and best.pt go here")
    a("--pairs", help="click pairs file of the train split (from `ifcn pairs`)")
    a("--mode", choices=("image", "pairs", "random"), default=None,
      help="image: one random pair per image; pairs: every pair (needs --pairs); random: sample clicks "
           "on the fly (default: pairs with --pairs, else random)")
    a("--train-split", default=d.train_split, help="training split (default train)")
    a("--backbone", default=d.backbone, help=f"backbone name (default {d.backbone})")
    a("--stride", type=int, choices=(8, 16, 32), default=d.stride, help="FCN-8s/16s/32s (default 8)")
    a("--upsample", choices=("deconv", "bilinear"), default=d.upsample, help="upsampling (default deconv)")
    a("--extra-init", choices=("zero", "mean"), default=d.extra_init,
      help="initialisation of the two click channels' first-conv weights (default mean)")
    a("--init-checkpoint", help="fine-tune from this checkpoint (its architecture wins)")
    a("--weights", default="imagenet",
      help="backbone weights: imagenet (torch hub cache), a weights file, or none (default imagenet)")
    a("--allow-download", action="store_true", help="allow downloading ImageNet weights if not cached")
    a("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    a("--max-steps", type=int, default=None, help="stop after this many optimiser steps in total")
    a("--batch-size", type=int, default=d.batch_size, help=f"batch size per process (default {d.batch_size})")
    a("--lr", type=float, default=d.lr, help="Adam learning rate (default 1e-3)")
    a("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay (default 1e-5)")
    a("--crop-size", type=int, default=d.crop_size, help=f"training crop size (default {d.crop_size})")
    a("--no-augment", action="store_true", help="no random scale/crop/flip")
    a("--workers", type=int, default=min(4, os.cpu_count() or 1), help="DataLoader worker processes")
    a("--device", default="auto", help="auto, cuda, cpu or mps")
    a("--resume", action="store_true", help="continue the run in --out from its last.pt")
    a("--seed", type=int, default=d.seed, help="random seed (default 0)")
    a("--amp", action=argparse.BooleanOptionalAction, default=None,
      help="mixed precision: on CUDA bf16/fp16 (default on); on the CPU bf16 autocast where the CPU "
           "supports it natively (default off)")
    a("--val-split", default=d.val_split, help="validation split, or none (default val)")
    a("--val-pairs", help="pairs file of the validation split (default: clicks sampled with a fixed seed)")
    a("--val-limit", type=int, default=None, help="validate on at most N samples")
    a("--val-every", type=int, default=None, help="also validate every N steps")
    a("--progress-json", action="store_true", help="JSON progress lines on stdout (see training.progress)")
    a("--progress-every", type=int, default=1, help="emit a step event every N steps (default 1)")
    a("--no-bar", action="store_true", help="no tqdm progress bar")
    a("--iterative", type=int, default=d.iterative, metavar="N",
      help="before each step add up to N corrective clicks placed by the NoC oracle in the model's own "
           "errors (RITM-style iterative training; default 0 = the paper's independent sampling)")
    a("--iterative-prob", type=float, default=d.iterative_prob,
      help=f"fraction of batches that get corrective clicks (default {d.iterative_prob})")
    a("--iterative-single", type=float, default=d.iterative_single,
      help="fraction of those first reduced to one positive click, like the benchmark's first click "
           f"(default {d.iterative_single})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from parsed command-line arguments."""
    weights = None if str(args.weights).lower() == "none" else args.weights
    val_split = None if str(args.val_split).lower() in ("none", "") else args.val_split
    return TrainConfig(
        voc_root=args.voc_root, out=args.out, data=tuple(args.data), scale_min=args.scale_min,
        scale_max=args.scale_max, pairs=args.pairs, mode=args.mode, train_split=args.train_split,
        backbone=args.backbone, stride=args.stride, upsample=args.upsample, extra_init=args.extra_init,
        init_checkpoint=args.init_checkpoint, weights=weights, allow_download=args.allow_download,
        epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, crop_size=args.crop_size, augment=not args.no_augment,
        workers=args.workers, device=args.device, resume=args.resume, seed=args.seed, amp=args.amp,
        val_split=val_split, val_pairs=args.val_pairs, val_limit=args.val_limit, val_every=args.val_every,
        progress_json=args.progress_json, progress_every=args.progress_every, show_bar=not args.no_bar,
        iterative=args.iterative, iterative_prob=args.iterative_prob, iterative_single=args.iterative_single)


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn train`: 0 when completed, 130 when stopped by a signal."""
    result = train(config_from_args(args))
    return 0 if result.status == "completed" else EXIT_STOPPED
