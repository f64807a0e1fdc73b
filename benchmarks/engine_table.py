"""Our network's forward through each backbone engine (eager PyTorch, ONNX Runtime, OpenVINO), head in PyTorch.

Used by `benchmarks.bench_latency_real`; an engine that is not installed is skipped with the reason.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.common import interleaved, reps
from models.clicks import Click


def engine_table(seq: dict[str, Any], default) -> dict[str, Any]:
    """Our network (backbone through each engine, head in PyTorch) at the run's largest working size."""
    from models import engines
    from models.clicks import distance_maps
    from models.inputs import normalize_rgb, scale_maps

    h, w = seq["work_size"]
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(normalize_rgb(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), default.spec))
    maps = torch.from_numpy(scale_maps(distance_maps([Click(w / 2, h / 2, True)], h, w, default.spec.clamp),
                                       default.spec))
    x = torch.cat([rgb, maps])[None].contiguous(memory_format=torch.channels_last)
    net = default._net
    with torch.inference_mode():
        ref = torch.sigmoid(net(x))
    fns: dict[str, Callable[[], Any]] = {}

    def through(eng):
        def run():
            with torch.inference_mode():
                return torch.sigmoid(net.head(eng.features(x), (h, w)))
        return run

    def eager():
        with torch.inference_mode():
            return torch.sigmoid(net(x))
    fns["torch"] = eager
    out: dict[str, Any] = {"size": f"{w}x{h}", "skipped": {}, "compile_s": {}, "max_diff": {"torch": 0.0}}
    for name in ("onnxruntime", "openvino"):
        if not engines.available(name):
            out["skipped"][name] = f"{name} is not installed (pip install '.[bench]')"
            continue
        eng = engines.FeatureEngine(net, name, background=False)
        t0 = time.perf_counter()
        if not eng.prepare(x, wait=True):
            out["skipped"][name] = f"{name}: outputs differ from PyTorch by {eng.max_diff.get(tuple(x.shape))}"
            continue
        out["compile_s"][name] = time.perf_counter() - t0
        out["max_diff"][name] = float((through(eng)() - ref).abs().max())
        fns[name] = through(eng)
    st = interleaved(fns, reps(30, 3), warmup=3)  # 8 rounds gave a p50 order that changed between runs
    out["ms"] = {k: v.median for k, v in st.items()}
    out["p95_ms"] = {k: v.p95 for k, v in st.items()}
    return out
