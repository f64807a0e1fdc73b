"""Shared pieces of the benchmarks: timing statistics, the model under test, test photos, machine facts, tables.

Timings are wall-clock milliseconds. Variants that are compared run interleaved (round-robin) in one process,
so background load hits them alike and their ratio means something even on a busy machine.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: BENCH_QUICK=1 runs every benchmark with a few repetitions (for developing the scripts).
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")


def reps(full: int, quick: int) -> int:
    """Repetition count: `full` normally, `quick` under BENCH_QUICK=1."""
    return quick if QUICK else full


@dataclass
class Stats:
    """Timing samples (ms) of one measured thing."""

    samples: list[float]

    @property
    def median(self) -> float:
        """p50 in ms."""
        return float(np.median(self.samples))

    @property
    def p95(self) -> float:
        """95th percentile in ms (linear interpolation)."""
        return float(np.percentile(self.samples, 95))

    @property
    def n(self) -> int:
        """Number of samples."""
        return len(self.samples)

    def fmt(self) -> str:
        """'p50 / p95 ms (n)'."""
        return f"{self.median:.1f} / {self.p95:.1f} ms (n={self.n})"


def measure(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> Stats:
    """Run `fn` `warmup` times untimed, then `repeats` times timed."""
    return interleaved({"x": fn}, repeats, warmup)["x"]


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 2) -> dict[str, Stats]:
    """Time several variants round-robin (each round runs every variant once, in a rotating order)."""
    names = list(fns)
    for _ in range(warmup):
        for k in names:
            fns[k]()
    out = {k: [] for k in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            t0 = time.perf_counter()
            fns[k]()
            out[k].append((time.perf_counter() - t0) * 1000.0)
    return {k: Stats(v) for k, v in out.items()}


@dataclass
class Target:
    """One row of the targets table: what, the target, what was measured, met or not, and why not."""

    benchmark: str
    target: str
    measured: str
    met: bool | None
    note: str = ""


@dataclass
class Section:
    """A benchmark's output: a title, tables (header + rows), free notes and target rows."""

    title: str
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    seconds: float = 0.0
    #: A name for sections kept between runs: RESULTS.md holds the section and its targets between
    #: `<!-- block:begin/end -->` markers, so a run of this section alone can replace them (run_all.splice).
    block: str = ""

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        """Add a table."""
        self.tables.append((header, [[str(c) for c in r] for r in rows]))

    def markdown(self) -> str:
        """The section as Markdown."""
        out = [f"## {self.title}", ""]
        for header, rows in self.tables:
            out.append(markdown_table(header, rows))
            out.append("")
        out.extend(f"- {n}" for n in self.notes)
        if self.notes:
            out.append("")
        out.append(f"_section wall time: {self.seconds:.0f} s_")
        out.append("")
        return "\n".join(out)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def load_average() -> str:
    """The 1/5/15-minute load averages, or '?'."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def busy_note() -> str:
    """A gap cause to add when other jobs load the machine (1-min load average above the core count)."""
    try:
        la = os.getloadavg()[0]
    except OSError:
        return ""
    n = os.cpu_count() or 1
    if la <= n:
        return ""
    return (f"machine busy while measuring (load average {la:.1f} on {n} cores): other jobs took CPU time, "
            "so absolute times are inflated")


def cause(*parts: str) -> str:
    """Join the non-empty parts of a gap cause."""
    return "; ".join(p for p in parts if p)


def machine_info() -> dict[str, str]:
    """Facts about the machine and the software versions, for the results header."""
    import cv2
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    try:
        from PyQt5.QtCore import PYQT_VERSION_STR, QT_VERSION_STR
        qt = f"PyQt {PYQT_VERSION_STR} / Qt {QT_VERSION_STR}"
    except ImportError:
        qt = "not installed"
    return {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit,
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "gpu": gpu,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "torch": f"{torch.__version__} ({torch.get_num_threads()} intra-op threads, "
                 f"mkldnn {torch.backends.mkldnn.is_available()})",
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "qt": qt,
        "load average at start (1/5/15 min)": load_average(),
    }


# ---------------------------------------------------------------------------------------------- inputs

def photo(width: int = 500, height: int = 375, name: str = "astronaut.jpg") -> np.ndarray:
    """A real photo from resources/samples resized to width x height (uint8 RGB)."""
    import cv2

    from models.fileio import read_image

    rgb = read_image(ROOT / "resources" / "samples" / name)
    interp = cv2.INTER_AREA if width * height < rgb.shape[0] * rgb.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interp)


def object_prior(height: int, width: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """A smooth elliptical 'object' probability map (stands in for a trained network's output)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return (1.0 / (1.0 + np.exp((r - 1.0) * 12.0))).astype(np.float32)


# ---------------------------------------------------------------------------------------------- models

def default_model():
    """(IFCN, description): the shipped default when present, else an ImageNet-initialised copy of its
    architecture (EfficientNet-Lite0 FCN-8s) built in memory: the same compute, untrained heads."""
    from models.backbones import spec_for
    from models.checkpoint import load_checkpoint
    from models.fcn import build_ifcn
    from resources import DEFAULT_CHECKPOINT

    if DEFAULT_CHECKPOINT.is_file():
        loaded = load_checkpoint(DEFAULT_CHECKPOINT)
        return loaded.model.eval(), f"shipped default ({DEFAULT_CHECKPOINT.relative_to(ROOT)}, " \
                                    f"{loaded.spec.backbone} FCN-{loaded.spec.stride}s)"
    model = build_ifcn(spec_for("efficientnet_lite0", stride=8), weights="imagenet").eval()
    return model, "EfficientNet-Lite0 FCN-8s, ImageNet-initialised in memory (no shipped default yet)"


def with_varied_heads(model):
    """A copy whose zero-initialised score layers get small random weights, so outputs vary per pixel
    (an untrained model otherwise predicts 0.5 everywhere)."""
    import copy

    import torch

    net = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("score") and not p.abs().gt(0).any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net.eval()


def has_trained_default() -> bool:
    """True when resources/weights/default.pt exists."""
    from resources import DEFAULT_CHECKPOINT
    return DEFAULT_CHECKPOINT.is_file()


def torchvision_model(backbone: str):
    """(IFCN, description) for a torchvision backbone FCN-8s; random weights (same compute as trained)."""
    import torch

    from models.backbones import spec_for
    from models.fcn import build_ifcn

    torch.manual_seed(0)
    return build_ifcn(spec_for(backbone, stride=8), weights=None).eval(), \
        f"{backbone} FCN-8s (random weights: ImageNet files are not on this machine; same compute)"


def cache_dir() -> Path:
    """Where generated benchmark data is kept between runs (outside the repository)."""
    import tempfile
    d = Path(os.environ.get("IFCN_BENCH_CACHE", Path(tempfile.gettempdir()) / "ifcn-bench-cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


#: What was tried to make GrabCut refinement cheaper, and why it was not kept (bench_latency_real, bench_refine_cost).
GRABCUT_TRIED = ("3 iterations lost NoC (commit 65c90c8); two scales (5 iterations on the crop downscaled to "
                 "10k / 18k pixels, then one graph cut at full size with the colour models frozen on a band "
                 "around the coarse boundary) cost 0.33x / 0.56x but lost 0.040 / 0.025 mean IoU per refined "
                 "click on 40 held-out training objects (3 clicks each; 2026-12-03, patch not kept); the "
                 "network's sure pixels (p <= 0.05 or >= 0.95) as definite labels cost 0.54x but NoC@90 went "
                 "4.38 -> 5.84 (GrabCut) and 9.30 -> 12.20 (Berkeley); starting on the widened crop (48 % of "
                 "refinements run twice) cost 0.6x but NoC@90 went to 4.70 / 9.79. So 5 full iterations on the "
                 "tight crop, widened when needed, were kept; stopping the iterations once the mask stops changing "
                 "would save 12 % (no pixel changed) to 29 % (at most 20 px changed) of GrabCut's time on 96 "
                 "refinements of held-out training objects, while later iterations still changed the mask in 29 "
                 "to 66 % of them (per-iteration cost is flat: each of the 5 costs about the same), so it was not "
                 "worth a change of output")
