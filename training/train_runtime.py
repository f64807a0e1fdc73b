"""The process side of a training run: stop signals, torchrun's environment, seeding, mixed precision.

Ctrl+C or SIGTERM sets a stop request that the loop checks after each step (a second Ctrl+C aborts at once);
data workers ignore both, so a signal sent to the whole process group reaches only the main process.
"""
from __future__ import annotations

import os
import random
import signal
import sys
import threading
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler


def cpu_bf16_supported() -> bool:
    """True where the CPU runs bf16 natively (oneDNN reports AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class StopRequest:
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


def worker_init(worker_id: int) -> None:
    # The main process decides when to stop: a Ctrl+C or a SIGTERM sent to the whole process group
    # (a terminal, `kill -- -PGID`, a service manager) must not kill a data worker under it, or the
    # main process dies of the worker's death instead of saving last.pt. Workers still end with the
    # main process (PyTorch's parent watchdog), and SIGKILL still kills them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class DistEnv:
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


def native_amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype mixed precision uses on `device`: CUDA bf16 where supported, else fp16; the CPU bf16
    where it has native bf16 (AVX512-BF16/AMX); None where there is none (another CPU, other devices)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_bf16_supported() else None


def precision(amp: bool | None, device: torch.device) -> tuple[bool, torch.dtype, bool]:
    """(mixed precision on, its dtype, channels_last) for the `--amp` choice (None: default) on `device`."""
    # Mixed precision: on by default on CUDA (fp16 comes with a GradScaler); on the CPU only when asked (--amp)
    native = native_amp_dtype(device)
    use_amp = (device.type == "cuda") if amp is None else bool(amp) and native is not None
    if amp and not use_amp:
        print(f"--amp ignored: no mixed precision on {device.type} here", file=sys.stderr)
    amp_dtype = native if use_amp and native is not None else torch.float16
    # channels_last: faster convs on CUDA, and on CPU 2.5x faster depthwise convs (EfficientNet-Lite)
    channels_last = device.type in ("cuda", "cpu")
    return use_amp, amp_dtype, channels_last
