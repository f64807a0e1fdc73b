"""Inference optimisations, each measured against the plain path in the same run (interleaved), with the
largest difference of the output probabilities next to it. What is kept ships in `models.predictor`.

    python -m benchmarks.bench_optim            # BENCH_COMPILE=0 skips the torch.compile measurement
"""
from __future__ import annotations

import copy
import os
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import Section, default_model, interleaved, photo, reps, torchvision_model, with_varied_heads
from models import efficientnet_lite
from models.clicks import Click, distance_maps
from models.inputs import make_input
from models.predictor import Predictor, fold_batchnorm

W, H = 500, 375
CLICKS = [Click(250, 230, True), Click(60, 60, False)]


def _skip_pad_forward(self: efficientnet_lite.SameConv2d, x: torch.Tensor) -> torch.Tensor:
    """SameConv2d without the F.pad copy (wrong by one row/column of padding): timing of a pad-free ideal."""
    return F.conv2d(x, self.weight, self.bias, self.stride, self.kernel_size[0] // 2, self.dilation, self.groups)


def _row(name: str, st, base, diff: float | None, kept: str) -> list[str]:
    return [name, f"{st.median:.1f}", f"{st.p95:.1f}", f"{base.median / st.median:.2f}×",
            "–" if diff is None else f"{diff:.1e}", kept]


def network_variants(sec: Section) -> None:
    """Plain → channels_last → inference_mode → BatchNorm folding on the default model; pad cost; ResNet-18."""
    model, desc = default_model()
    model = with_varied_heads(model)
    x = torch.from_numpy(make_input(photo(W, H), CLICKS, model.spec))[None]
    x_cl = x.contiguous(memory_format=torch.channels_last)
    plain = copy.deepcopy(model)
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    folded = fold_batchnorm(model).to(memory_format=torch.channels_last)

    def run(net, inp, ctx):
        with ctx():
            return torch.sigmoid(net(inp))

    variants = {
        "plain": lambda: run(plain, x, torch.no_grad),
        "channels_last": lambda: run(cl, x_cl, torch.no_grad),
        "channels_last + inference_mode": lambda: run(cl, x_cl, torch.inference_mode),
        "+ BatchNorm folded (shipped)": lambda: run(folded, x_cl, torch.inference_mode),
    }
    ref = variants["plain"]()
    diffs = {k: float((f() - ref).abs().max()) for k, f in variants.items()}
    is_eff = isinstance(model.backbone, efficientnet_lite.EfficientNetLite)
    if is_eff:
        orig = efficientnet_lite.SameConv2d.forward

        def no_pad():
            efficientnet_lite.SameConv2d.forward = _skip_pad_forward
            try:
                return run(folded, x_cl, torch.inference_mode)
            finally:
                efficientnet_lite.SameConv2d.forward = orig
        variants["(ideal: no F.pad in SameConv2d; wrong output, timing only)"] = no_pad
    n = reps(20, 4)
    st = interleaved(variants, n, warmup=2)
    base = st["plain"]
    kept = {"plain": "", "channels_last": "kept", "channels_last + inference_mode": "kept",
            "+ BatchNorm folded (shipped)": "kept"}
    rows = [_row(k, s, base, diffs.get(k), kept.get(k, "not possible: see notes")) for k, s in st.items()]

    r18, _ = torchvision_model("resnet18")
    r18 = with_varied_heads(r18)
    x18 = torch.from_numpy(make_input(photo(W, H), CLICKS, r18.spec))[None]
    x18_cl = x18.contiguous(memory_format=torch.channels_last)
    r18_cl = copy.deepcopy(r18).to(memory_format=torch.channels_last)
    r18_f = fold_batchnorm(r18).to(memory_format=torch.channels_last)
    ref18 = run(r18, x18, torch.no_grad)
    st18 = interleaved({"plain": lambda: run(r18, x18, torch.no_grad),
                        "cl": lambda: run(r18_cl, x18_cl, torch.inference_mode),
                        "fold": lambda: run(r18_f, x18_cl, torch.inference_mode)}, max(3, n // 2), warmup=1)
    d18 = {"cl": float((run(r18_cl, x18_cl, torch.inference_mode) - ref18).abs().max()),
           "fold": float((run(r18_f, x18_cl, torch.inference_mode) - ref18).abs().max())}
    rows.append(_row("ResNet-18 FCN-8s: plain", st18["plain"], st18["plain"], None, ""))
    rows.append(_row("ResNet-18: channels_last + inference_mode", st18["cl"], st18["plain"], d18["cl"], "kept"))
    rows.append(_row("ResNet-18: + BatchNorm folded (shipped)", st18["fold"], st18["plain"], d18["fold"], "kept"))
    sec.table(["network forward, 500×375, CPU", "p50 ms", "p95 ms", "speed-up vs plain", "max |Δprob|",
               "decision"], rows)
    sec.notes.append(f"Model: {desc}; score layers given small random weights so that the probability "
                     "differences are measured on a non-constant output.")
    if is_eff:
        ideal = st["(ideal: no F.pad in SameConv2d; wrong output, timing only)"]
        gain = st["+ BatchNorm folded (shipped)"].median / ideal.median
        sec.notes.append(
            f"TF 'same' padding: skipping the per-call `F.pad` entirely would be {gain:.2f}× faster at best. "
            "The asymmetric pad (extra row/column bottom-right) cannot be expressed as a convolution's own "
            "padding, and a reused zero-bordered buffer (copying into its interior instead of F.pad's "
            "allocate + fill + copy) measured no faster during development (the strided copy into a "
            "channels_last view costs as much as the fill it saves), so it was rejected and F.pad kept.")


def capped_size(sec: Section) -> None:
    """Predictor with max_size 512 vs 384 on a 500x375 photo: time and how much the mask changes (the default, 1024,
    runs such a photo as 512 does: at its own size)."""
    model, _ = default_model()
    model = with_varied_heads(model)
    rgb = photo(W, H)
    p512, p384 = Predictor(model, max_size=512), Predictor(model, max_size=384)
    p512.set_image(rgb)
    p384.set_image(rgb)
    st = interleaved({"512": lambda: p512.predict(CLICKS), "384": lambda: p384.predict(CLICKS)}, reps(15, 3))
    a, b = p512.predict(CLICKS), p384.predict(CLICKS)
    sec.table(["inference size cap (Predictor max_size), 500×375 photo", "p50 ms", "p95 ms", "speed-up",
               "max |Δprob|", "decision"], [
        _row("max_size 512 (as the default 1024: 500×375 runs at full size)", st["512"], st["512"], None, "kept"),
        _row("max_size 384 (runs at 384×288, upscaled)", st["384"], st["512"], float(np.abs(a - b).max()),
             "rejected as default (changes outputs); the GUI's Maximum inference size setting offers it"),
    ])


COMPILE_TIMEOUT_S = int(os.environ.get("BENCH_COMPILE_TIMEOUT", "180"))


def _compile_probe() -> dict:
    """Run in a child process: compile the folded default model (inductor, freezing), time it; a dict."""
    import torch._inductor.config as inductor_config

    model, _ = default_model()
    net = fold_batchnorm(with_varied_heads(model)).to(memory_format=torch.channels_last)
    x = torch.from_numpy(make_input(photo(W, H), CLICKS, model.spec))[None].contiguous(
        memory_format=torch.channels_last)
    x2 = torch.from_numpy(make_input(photo(W - 4, H), CLICKS, model.spec))[None].contiguous(
        memory_format=torch.channels_last)
    inductor_config.freezing = True
    comp = torch.compile(net, dynamic=False)
    with torch.no_grad():
        t0 = time.perf_counter()
        comp(x)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        comp(x2)
        second = time.perf_counter() - t0
        diff = float((torch.sigmoid(comp(x)) - torch.sigmoid(net(x))).abs().max())
        st = interleaved({"eager": lambda: net(x), "compiled": lambda: comp(x)}, reps(15, 3))
    return {"first": first, "second": second, "diff": diff, "eager": st["eager"].median,
            "compiled": st["compiled"].median}


def compiled(sec: Section) -> None:
    """torch.compile (inductor, freezing) in a child process with a fresh cache and a time limit."""
    import json
    import signal
    import subprocess
    import sys
    import tempfile

    if os.environ.get("BENCH_COMPILE", "1") in ("0", ""):
        sec.notes.append("torch.compile: skipped (BENCH_COMPILE=0).")
        return
    with tempfile.TemporaryDirectory(prefix="ifcn-inductor-") as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache, TORCHINDUCTOR_COMPILE_THREADS="1")
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_optim", "--compile-probe"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            sec.notes.append(f"torch.compile (inductor, freezing): compiling one input shape did not finish within "
                             f"{COMPILE_TIMEOUT_S} s on this machine (cold cache), so it was stopped. Rejected: "
                             "see the decision below.")
            out = None
    if out is not None:
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            sec.notes.append(f"torch.compile: the probe failed (exit code {proc.returncode}).")
            r = None
        if r is not None:
            sec.table(["torch.compile (inductor, freezing), folded default model, 500×375, cold cache", "value"], [
                ["compile + first run, first shape", f"{r['first']:.1f} s"],
                ["compile + first run, a second shape (496×375)", f"{r['second']:.1f} s"],
                ["eager p50 (same process)", f"{r['eager']:.1f} ms"],
                ["compiled p50", f"{r['compiled']:.1f} ms ({r['eager'] / r['compiled']:.2f}×)"],
                ["max |Δprob| compiled vs eager", f"{r['diff']:.1e}"],
            ])
    sec.notes.append(
        "torch.compile decision: not used in the GUI. Every new image size recompiles (seconds to minutes on "
        "2 busy cores) unless inputs are padded to a few buckets, which changes the network's border context "
        "and so the outputs; a persistent cache only helps from the second session on. A user opening photos "
        "of varied sizes would wait on the first click of each new size, which the ≤ 300 ms first-mask target "
        "forbids.")


def distance_transforms(sec: Section) -> None:
    """cv2 (used) vs scipy exact EDT for a click map, and the whole two-map encoding."""
    from scipy import ndimage

    src = np.ones((H, W), np.uint8)
    src[230, 250] = 0
    st = interleaved({
        "cv2": lambda: cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
        "scipy": lambda: ndimage.distance_transform_edt(src),
        "maps": lambda: distance_maps(CLICKS, H, W),
    }, reps(30, 5))
    a = cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    b = ndimage.distance_transform_edt(src)
    sec.table(["click distance map, 500×375", "p50 ms", "p95 ms", "speed-up", "max |Δ| px", "decision"], [
        _row("scipy.ndimage.distance_transform_edt", st["scipy"], st["scipy"], None, "rejected"),
        _row("cv2.distanceTransform DIST_MASK_PRECISE (used)", st["cv2"], st["scipy"], float(np.abs(a - b).max()),
             "kept"),
        _row("both iFCN maps for 2 clicks (`models.clicks.distance_maps`)", st["maps"], st["scipy"], None, ""),
    ])


def run() -> Section:
    """All optimisation measurements."""
    t0 = time.perf_counter()
    sec = Section("Inference optimisations (tried, measured, kept or rejected)")
    network_variants(sec)
    capped_size(sec)
    distance_transforms(sec)
    compiled(sec)
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    import json
    import sys

    if "--compile-probe" in sys.argv:
        print(json.dumps(_compile_probe()))
    else:
        print(run().markdown())
