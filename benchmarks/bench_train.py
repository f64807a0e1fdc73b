"""Training throughput (images/s) of ResNet-18 FCN-8s on 320×320 crops: the trainer's settings (its
`train_step`, DataLoader worker processes, channels_last on the CPU), and the same with `--amp` (bf16
autocast on a CPU with native bf16), against a plain fp32, contiguous, single-process loop of the same model.

    python -m benchmarks.bench_train
"""
from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader

from benchmarks.bench_pairs import voc_train_sized_devkit
from benchmarks.common import Section, Target, busy_note, cause, reps
from models.backbones import spec_for
from models.fcn import build_ifcn
from training.datasets import make_dataset
from training.step import train_step
from training.train import TrainConfig
from training.train_runtime import worker_init

BATCH = 8
CROP = 320


def _bf16():
    return torch.autocast(device_type="cpu", dtype=torch.bfloat16)


def _throughput(ds, workers: int, channels_last: bool, steps: int, bf16: bool = False) -> float:
    """Images/s over `steps` optimiser steps after one warm-up step (loader start-up not counted)."""
    torch.manual_seed(0)
    model = build_ifcn(spec_for("resnet18", stride=8), weights=None).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    # workers from a fork server, not forked from this process: earlier sections leave engine thread pools
    # (OpenVINO) in it, and a fork of it crashed (SIGSEGV) once its workers started; the steps timed are the same
    kw = dict(num_workers=workers, worker_init_fn=worker_init if workers else None,
              multiprocessing_context="forkserver" if workers else None)
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0), **kw)
    it = iter(loader)
    kw = dict(channels_last=channels_last, autocast=_bf16) if bf16 else dict(channels_last=channels_last)
    train_step(model, opt, next(it), torch.device("cpu"), **kw)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(model, opt, next(it), torch.device("cpu"), **kw)
    dt = time.perf_counter() - t0
    del it, loader
    return steps * BATCH / dt


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return flag in f.read()
    except OSError:
        return False


def _cpu_bf16_ok() -> bool:
    """Whether `ifcn train --amp` turns on bf16 autocast on this CPU."""
    from training.train_runtime import cpu_bf16_supported
    return cpu_bf16_supported()


def run() -> Section:
    """Images/s of the three loops, two rounds each, interleaved by round."""
    t0 = time.perf_counter()
    sec = Section("Training throughput (ResNet-18 FCN-8s, 320×320 crops, batch 8, CPU)")
    ds = make_dataset(voc_train_sized_devkit(), "train", "random", spec_for("resnet18", stride=8),
                      crop_size=CROP, augment=True, seed=0)
    ours_workers = TrainConfig(voc_root="", out="").workers
    configs = {
        "plain: fp32, contiguous, 1 process (data loading inline)": (0, False, False),
        f"ours, contiguous ({ours_workers} DataLoader workers): the trainer before channels_last":
            (ours_workers, False, False),
        f"ours: `ifcn train` defaults (channels_last on CPU, {ours_workers} workers)": (ours_workers, True, False),
        f"ours: `ifcn train --amp` (+ bf16 autocast, {ours_workers} workers)": (ours_workers, True, True),
    }
    steps, rounds = reps(3, 1), reps(2, 1)
    rates: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(rounds):
        for name, (workers, cl, bf16) in configs.items():
            rates[name].append(_throughput(ds, workers, cl, steps, bf16))
    names = list(configs)
    base = sum(rates[names[0]]) / rounds
    rows = []
    for name in names:
        r = sum(rates[name]) / rounds
        rows.append([name, f"{r:.2f}", f"{r / base:.2f}×", " / ".join(f"{v:.2f}" for v in rates[name])])
    sec.table(["loop", "images/s (mean of rounds)", "vs plain", "per round"], rows)
    default = sum(rates[names[2]]) / rounds
    amp = sum(rates[names[3]]) / rounds
    ours = max(default, amp) if _cpu_bf16_ok() else default
    sec.notes.append(f"{steps} timed steps per round after a warm-up step, {rounds} rounds run in turn so load "
                     "drifts hit every loop. Data: `random` click sampling on the pair-generation devkit "
                     "(500×375 images, scale/crop/flip augmentation), as `ifcn train` without a pairs file.")
    cpu_bf16 = torch.backends.mkldnn.is_available() and _cpu_has("avx512_bf16")
    sec.notes.append("Where the time goes: a step is dominated by the network's forward/backward pass; data "
                     "preparation (decode, augment, distance maps) is small next to it, so DataLoader workers "
                     "can only hide that part, and on 2 cores they compete with the two compute threads. "
                     f"bf16 autocast: the CPU {'has' if cpu_bf16 else 'lacks'} AVX512-BF16; it changes the "
                     "arithmetic (training numerics), so it is opt-in (`ifcn train --amp`), not the default.")
    sec.targets.append(Target("training images/s, ResNet-18 FCN-8s, 320×320", "≥ 1.5× a plain fp32 loop",
                              f"{ours / base:.2f}× (`ifcn train` defaults {default / base:.2f}×, "
                              f"with --amp {amp / base:.2f}×)",
                              ours / base >= 1.5, "" if ours / base >= 1.5 else cause(
                                  "compute-bound: DataLoader workers only hide data preparation, which is small "
                                  "next to the forward/backward pass on 2 cores; see the training section for "
                                  "the channels_last and bf16 variants", busy_note())))
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    print(run().markdown())
