"""Checkpoint and resume of a training run: the model to start from, and last.pt's resumable state.

last.pt holds, besides the model (core checkpoint format, models.checkpoint), in its `extra`: the
optimiser and GradScaler states, step, epoch, batches done in the epoch, RNG states, the best validation
IoU and the run's settings; best.pt is the model alone. A resumed run continues the same sequence.
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.backbones import spec_for
from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import CheckpointError, IFCNError
from models.fcn import build_ifcn, with_prev_mask, with_stride4
from models.spec import ModelSpec
from training.train_config import TrainConfig, plain_config


def rng_state() -> dict[str, Any]:
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


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the RNG states `rng_state` returned (a warning, not an error, when they do not fit)."""
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


def check_run_folder(cfg: TrainConfig, run_dir: Path, last_path: Path) -> None:
    """IFCNError when --resume has nothing to resume, or a new run would overwrite an existing one."""
    if cfg.resume and not last_path.is_file():
        raise CheckpointError(f"{last_path}: nothing to resume (no last.pt); drop --resume to start a new run.")
    if not cfg.resume and last_path.is_file():
        raise IFCNError(f"{run_dir} already holds a run (last.pt). Use --resume to continue it, "
                        "or choose another --out folder.")


@dataclass
class RunState:
    """Where a run stands: what last.pt saves and a resumed run starts from."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float | None = None
    last_val: float | None = None
    val_history: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class Start:
    """The model, optimiser and scaler a run starts with, and its state (zero, or resumed)."""

    model: torch.nn.Module
    spec: ModelSpec
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    state: RunState


def start(cfg: TrainConfig, last_path: Path, device: torch.device, use_amp: bool, amp_dtype: torch.dtype,
          channels_last: bool) -> Start:
    """The run's model (resumed from last.pt, fine-tuned from --init-checkpoint, or built), on `device`."""
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
    if cfg.stride == 4 and spec.stride != 4:
        if cfg.resume:
            raise IFCNError(f"{last_path} is an FCN-{spec.stride}s run: resume it without --stride 4, or start a new "
                            "run with --init-checkpoint and --stride 4")
        try:
            model = with_stride4(model)
        except (ValueError, IFCNError) as e:
            raise IFCNError(f"--stride 4: {e}") from None
        spec = model.spec
    if cfg.prev_mask and not spec.prev_mask:
        if cfg.resume:
            raise IFCNError(f"{last_path} has no previous-mask input: resume it without --prev-mask, or start a "
                            "new run with --init-checkpoint and --prev-mask")
        model = with_prev_mask(model)
        spec = model.spec
    if getattr(model, "refiner", None) is not None:
        model.refiner.requires_grad_(False)  # not in forward(): kept as it is (`ifcn train-refiner` trains it)
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
    best_val = extra.get("best_val_iou")
    state = RunState(step=int(extra.get("step", 0)), epoch=int(extra.get("epoch", 0)),
                     batch_in_epoch=int(extra.get("batch_in_epoch", 0)),
                     best_val=float(best_val) if best_val is not None and best_val >= 0 else None,
                     last_val=resumed_meta.get("val_iou"))
    if cfg.resume:
        set_rng_state(extra.get("rng", {}))
    return Start(model, spec, optimizer, scaler, state)


def save_run(path: Path, model: torch.nn.Module, cfg: TrainConfig, state: RunState, meta_training: dict[str, Any],
             optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, seconds: float,
             resumable: bool) -> None:
    """Write the run's checkpoint to `path`: with the resumable state when `resumable` (last.pt)."""
    meta = {"training": meta_training, "epoch": state.epoch, "steps": state.step,
            "val_iou": state.last_val if state.last_val is not None else -1.0,
            "best_val_iou": state.best_val if state.best_val is not None else -1.0,
            "seconds": round(seconds, 3)}
    extra_out = None
    if resumable:
        extra_out = {"optimizer": optimizer.state_dict(), "step": state.step, "epoch": state.epoch,
                     "batch_in_epoch": state.batch_in_epoch, "rng": rng_state(),
                     "best_val_iou": state.best_val if state.best_val is not None else -1.0,
                     "config": plain_config(cfg)}
        if scaler.is_enabled():
            extra_out["scaler"] = scaler.state_dict()
    save_checkpoint(path, model, meta=meta, extra=extra_out)
