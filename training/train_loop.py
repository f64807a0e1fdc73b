"""The training run (`ifcn train`): Adam + BCE-with-logits over non-void pixels, reference settings.

Writes RUN_DIR/last.pt (resumable, training.train_checkpoint) and RUN_DIR/best.pt (best validation IoU)
in the core checkpoint format. Ctrl+C or SIGTERM finishes the current step, saves last.pt and ends with
status "stopped". Multi-GPU: launch with `torchrun --nproc_per_node=N -m models.cli train ...`; each
process finds LOCAL_RANK/WORLD_SIZE in its environment, wraps the model in DistributedDataParallel and
shards data with a DistributedSampler; rank 0 alone writes files and logs.
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.device import resolve_device
from models.errors import IFCNError
from training.distill import Teachers
from training.iterative import IterativeConfig, simulate
from training.progress import ProgressWriter
from training.step import LOSSES, freeze_batchnorm, train_step
from training.train_checkpoint import check_run_folder, save_run, start
from training.train_config import TrainConfig, TrainResult
from training.train_data import make_datasets, make_loaders
from training.train_runtime import DistEnv, StopRequest, precision, seed_everything
from training.validation import validate


def train(config: TrainConfig, progress: ProgressWriter | None = None,
          stop_event: threading.Event | None = None) -> TrainResult:
    """Run (or resume) training as configured; returns how it ended. IFCNError for user errors."""
    cfg = config
    dist_env = DistEnv()
    main = dist_env.main
    progress = progress if (progress is not None and main) else ProgressWriter(
        enabled=cfg.progress_json and main)
    stop = StopRequest(stop_event)
    t_start = time.perf_counter()
    try:
        device = dist_env.init(resolve_device(cfg.device))
        return _Run(cfg, dist_env, device, progress, stop, t_start).run()
    except Exception as e:  # the stream tells a watching GUI why the run ended, then it propagates
        message = str(e) if isinstance(e, IFCNError) else f"{type(e).__name__}: {e}"
        progress.emit("error", message=message)
        progress.emit("end", status="failed", best_val_iou=None, steps=0,
                      seconds=time.perf_counter() - t_start)
        raise
    finally:
        stop.uninstall()
        dist_env.close()


class _Run:
    """One run: its model, data and state, checkpoints, validation and log (rank 0 writes)."""

    def __init__(self, cfg: TrainConfig, dist_env: DistEnv, device: torch.device, progress: ProgressWriter,
                 stop: StopRequest, t_start: float) -> None:
        self.cfg, self.dist, self.device, self.progress, self.stop = cfg, dist_env, device, progress, stop
        self.t_start = t_start
        self.main = dist_env.main
        self.run_dir = Path(cfg.out)
        self.last_path, self.best_path = self.run_dir / "last.pt", self.run_dir / "best.pt"
        if cfg.batch_size < 1:
            raise IFCNError("--batch-size must be at least 1.")
        if not 0 <= cfg.val_clicks <= 20:
            raise IFCNError(f"--val-clicks must lie in 0..20, got {cfg.val_clicks}.")
        if cfg.loss not in LOSSES:
            raise IFCNError(f"--loss {cfg.loss!r}: unknown; one of {', '.join(sorted(LOSSES))}.")
        if not (1.0 <= cfg.click_weight <= 100.0 and 0.0 <= cfg.click_radius <= 255.0):
            raise IFCNError(f"--click-weight must lie in [1, 100] and --click-radius in [0, 255] px, got "
                            f"{cfg.click_weight:g} and {cfg.click_radius:g}.")
        if cfg.click_weight != 1.0 and cfg.loss != "bce":
            raise IFCNError(f"--click-weight weighs the BCE; it does not combine with --loss {cfg.loss}.")
        if not 0.0 < cfg.distill_weight <= 1.0:
            raise IFCNError(f"--distill-weight must lie in (0, 1], got {cfg.distill_weight:g}.")
        try:
            self.iterative = IterativeConfig(cfg.iterative, cfg.iterative_prob, cfg.iterative_single,
                                             refine=cfg.iterative_refine)
        except ValueError as e:
            raise IFCNError(f"--iterative options: {e}") from None
        check_run_folder(cfg, self.run_dir, self.last_path)

        seed_everything(cfg.seed + dist_env.rank)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.use_amp, self.amp_dtype, self.channels_last = precision(cfg.amp, device)
        begun = start(cfg, self.last_path, device, self.use_amp, self.amp_dtype, self.channels_last)
        self.model, self.spec, self.optimizer, self.scaler = begun.model, begun.spec, begun.optimizer, begun.scaler
        self.state = begun.state
        self.click_focus = ((cfg.click_weight, cfg.click_radius, float(self.spec.clamp))
                            if cfg.click_weight != 1.0 else None)
        if cfg.freeze_bn:
            freeze_batchnorm(self.model)
        self.teachers = Teachers(cfg.teachers, self.spec, device, self.channels_last) if cfg.teachers else None
        self.net = self.model
        if dist_env.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.net = DDP(self.model, device_ids=[device.index] if device.type == "cuda" else None)

        self.train_ds, val_ds = make_datasets(cfg, self.spec, self.main)
        self.loaders = make_loaders(cfg, self.train_ds, val_ds, dist_env, device)
        self.meta_training = {
            "data": str(cfg.voc_root or ",".join(cfg.data)), "scale": [cfg.scale_min, cfg.scale_max],
            "base_size": cfg.base_size,
            "train_split": cfg.train_split, "val_split": cfg.val_split or "",
            "mode": cfg.data_mode, "pairs": str(cfg.pairs or ""), "crop_size": cfg.crop_size,
            "batch_size": cfg.batch_size, "world_size": dist_env.world, "lr": cfg.lr,
            "weight_decay": cfg.weight_decay, "seed": cfg.seed, "epochs": cfg.epochs,
            "max_steps": cfg.max_steps if cfg.max_steps is not None else -1,
            "weights": str(cfg.weights or "none"), "init_checkpoint": str(cfg.init_checkpoint or ""),
            "train_samples": len(self.train_ds), "val_samples": len(val_ds) if val_ds is not None else 0,
            "amp": bool(self.use_amp), "device": str(device), "iterative": cfg.iterative,
            "iterative_prob": cfg.iterative_prob, "iterative_single": cfg.iterative_single,
            "iterative_refine": cfg.iterative_refine,
            "val_clicks": cfg.val_clicks, "freeze_bn": cfg.freeze_bn,
        }
        if self.teachers is not None:
            self.meta_training.update(teachers=[str(p) for p in cfg.teachers], distill_weight=cfg.distill_weight)
        self.val_samples = len(val_ds) if val_ds is not None else 0
        self.saved_at = {"last": -1, "best": -1, "snapshot": -1}
        self.bar = None

    def autocast(self) -> Any:
        """The mixed-precision context of a forward pass (a no-op without AMP)."""
        if not self.use_amp:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def save(self, kind: str) -> None:
        """Write last.pt, best.pt or snapshots/step<N>.pt (rank 0, once per step and kind)."""
        if not self.main or self.saved_at[kind] == self.state.step:
            return
        self.saved_at[kind] = self.state.step
        path = {"last": self.last_path, "best": self.best_path}.get(kind)
        if path is None:
            path = self.run_dir / "snapshots" / f"step{self.state.step}.pt"
            path.parent.mkdir(exist_ok=True)
        save_run(path, self.model, self.cfg, self.state, self.meta_training, self.optimizer, self.scaler,
                 time.perf_counter() - self.t_start, resumable=kind == "last")
        self.progress.emit("checkpoint", path=str(path), kind=kind, step=self.state.step)

    def run_validation(self) -> float | None:
        """Validate (all ranks), record the IoU and save best.pt when it improved; None without data."""
        st = self.state
        if self.loaders.val_loader is None:
            return None
        total, count = validate(self.model, self.loaders.val_loader, self.device, self.autocast,
                                self.channels_last, clicks=self.cfg.val_clicks)
        total, count = self.dist.sum([total, float(count)], self.device)
        if count <= 0:
            return None
        st.last_val = total / count
        st.val_history.append((st.step, st.last_val))
        self.progress.emit("val", step=st.step, epoch=st.epoch, val_iou=st.last_val, objects=int(count))
        self.log(f"step {st.step}: validation IoU {st.last_val:.4f} over {int(count)} objects")
        if st.best_val is None or st.last_val > st.best_val:
            st.best_val = st.last_val
            self.save("best")
        if self.cfg.snapshots:
            self.save("snapshot")
        return st.last_val

    def log(self, msg: str) -> None:
        """A line on stderr (through the progress bar when there is one); rank 0 only."""
        if not self.main:
            return
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr)

    def run(self) -> TrainResult:
        """Train to the end (or a stop request), save, and report."""
        cfg, st, plan = self.cfg, self.state, self.loaders
        total_steps, steps_per_epoch = plan.total_steps, plan.steps_per_epoch
        if self.main and cfg.show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=min(st.step, total_steps), unit="step", file=sys.stderr,
                            dynamic_ncols=True, desc=self.spec.name)
        if self.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.progress.emit("start", command="train", run_dir=str(self.run_dir), device=str(self.device),
                           world_size=self.dist.world, model=self.spec.to_dict(), train_samples=len(self.train_ds),
                           val_samples=self.val_samples, steps_per_epoch=steps_per_epoch,
                           total_steps=total_steps, epochs=cfg.epochs, step=st.step, resumed=bool(cfg.resume))
        self.log(f"training {self.spec.name} on {self.device} ({self.dist.world} process(es)): "
                 f"{len(self.train_ds)} samples, {steps_per_epoch} steps/epoch, steps {st.step}->{total_steps}")

        self.stop.install()
        losses: list[float] = []
        validated_at = -1
        status = "completed"
        rate_t, rate_step = time.perf_counter(), st.step
        ips = 0.0
        while st.step < total_steps and steps_per_epoch > 0:
            loader = plan.epoch_loader(st.epoch, st.batch_in_epoch, cfg.batch_size)
            epoch_losses: list[float] = []
            stopped = False
            for batch in loader:
                if self.iterative.enabled:  # the model's own errors get corrective clicks (seeded by step)
                    simulate(self.model, batch, self.spec, self.iterative,
                             np.random.default_rng([cfg.seed, self.dist.rank, st.step]), self.device,
                             self.autocast, self.channels_last)
                loss_v = train_step(self.net, self.optimizer, batch, self.device, self.scaler, self.autocast,
                                    self.channels_last, loss=cfg.loss, click_focus=self.click_focus,
                                    teacher=self.teachers, distill=cfg.distill_weight)
                st.step += 1
                st.batch_in_epoch += 1
                losses.append(loss_v)
                epoch_losses.append(loss_v)
                now = time.perf_counter()
                if now - rate_t > 0:
                    inst = (st.step - rate_step) * cfg.batch_size * self.dist.world / (now - rate_t)
                    ips = inst if ips == 0 else 0.8 * ips + 0.2 * inst
                rate_t, rate_step = now, st.step
                eta = (total_steps - st.step) * cfg.batch_size * self.dist.world / ips if ips > 0 else None
                if self.bar is not None:
                    self.bar.update(1)
                    self.bar.set_postfix(loss=f"{loss_v:.4f}", epoch=st.epoch)
                if cfg.progress_every > 0 and (st.step % cfg.progress_every == 0 or st.step == total_steps):
                    self.progress.emit("step", step=st.step, epoch=st.epoch, loss=loss_v,
                                       lr=self.optimizer.param_groups[0]["lr"], images_per_s=round(ips, 3),
                                       eta_s=round(eta, 1) if eta is not None else None)
                if cfg.val_every and st.step % cfg.val_every == 0 and st.step < total_steps:
                    self.run_validation()
                    validated_at = st.step
                    self.save("last")
                if self.dist.any(self.stop.set, self.device):
                    stopped = True
                    break
                if st.step >= total_steps and st.batch_in_epoch < steps_per_epoch:
                    break
            else:  # the epoch ran to its end
                mean_loss = float(np.mean(epoch_losses)) if epoch_losses else None
                val = self.run_validation() if validated_at != st.step else st.last_val
                validated_at = st.step
                self.progress.emit("epoch", epoch=st.epoch, step=st.step, train_loss=mean_loss, val_iou=val)
                self.log(f"epoch {st.epoch} done: mean loss "
                         f"{mean_loss if mean_loss is not None else float('nan'):.4f}")
                st.epoch += 1
                st.batch_in_epoch = 0
                self.save("last")
            if st.batch_in_epoch >= steps_per_epoch:  # stopped exactly at an epoch's end
                st.epoch += 1
                st.batch_in_epoch = 0
            if stopped:
                status = "stopped"
                break
        return self._finish(status, validated_at, losses)

    def _finish(self, status: str, validated_at: int, losses: list[float]) -> TrainResult:
        """Last validation and checkpoints, the end event and log line, and the result."""
        st = self.state
        if status == "completed" and validated_at != st.step:
            self.run_validation()
        self.save("last")
        if self.main and not self.best_path.is_file() and self.loaders.val_loader is None:
            self.save("best")  # no validation data: best is the last state
        if self.bar is not None:
            self.bar.close()
        seconds = time.perf_counter() - self.t_start
        self.progress.emit("end", status=status, best_val_iou=st.best_val, steps=st.step, seconds=round(seconds, 3))
        if status == "stopped":
            self.log(f"stopped at step {st.step} ({self.stop.reason}); resume with --resume --out {self.run_dir}")
        else:
            self.log(f"done: {st.step} steps in {seconds:.1f} s, best validation IoU "
                     f"{st.best_val if st.best_val is not None else float('nan'):.4f}; wrote {self.last_path}")
        return TrainResult(status, st.step, st.epoch, seconds, st.best_val, st.last_val,
                           self.last_path if self.main else None,
                           self.best_path if self.main and self.best_path.is_file() else None,
                           losses, st.val_history)
