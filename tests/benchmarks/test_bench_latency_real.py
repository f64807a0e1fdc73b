"""The click-latency benchmark on correction sequences: the oracle's clicks, per-click ratios, peers' skips."""
from __future__ import annotations

import builtins

import numpy as np

from benchmarks import bench_latency_real as b
from tests.benchmarks.test_bench_quality import _object_folder


def test_sequences_time_every_oracle_click_against_the_plain_forward(tmp_path):
    """Each click the NoC oracle places is timed as the annotator runs it and as a plain forward; the ratios
    are per click and the stage breakdown comes from Predictor.last_timings."""
    from training.layouts import ObjectFolder
    from training.noc import evaluate
    from models.predictor import Predictor

    folder = _object_folder(tmp_path / "set", 2)
    seq, default = b.sequences(str(folder), limit=2)
    assert seq["sets"] == ["set"] and seq["sizes"] == ["64x48"]
    # the same clicks as `ifcn noc` places for the predictor as the annotator runs it
    ref = evaluate(Predictor.load(None, device="cpu"), ObjectFolder(folder / "images"), split="all", refine=True,
                   limit=2)
    assert seq["clicks"] == sum(len(o.ious) for o in ref.objects)
    for key in ("mask", "preview", "network", "grabcut"):
        q = seq[f"{key}_ratio"]
        assert 0 < q["p50"] <= q["p95"] <= q["max"], key
    assert seq["mask_ms"]["p50"] >= seq["preview_ms"]["p50"] > 0
    assert seq["settings"]["engine"] == "torch" and default.info()["engine"] == "torch"


def _record() -> dict:
    q = {"p50": 1.0, "p95": 2.0, "max": 3.0}
    seq = {"sets": ["GrabCut"], "clicks": 5, "objects_per_set": 3, "sizes": ["480x360"], "settings": {},
           "forward_ms": {"p50": 50.0, "p95": 60.0, "max": 70.0}, "brs_negative_inside_n": 0,
           "brs_negative_inside_ratio": {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}}
    for key in ("mask", "preview", *b.STAGES):
        seq[f"{key}_ms"], seq[f"{key}_ratio"] = {k: v * 50 for k, v in q.items()}, dict(q)
    seq["mask_ratio"] = {"p50": 1.2, "p95": 2.5, "max": 4.0}
    return {"date": "d", "commit": "c", "cpu": "AMD EPYC", "cpu_flags": ["avx2", "fma"], "cores": 2,
            "torch_threads": 2, "omp_num_threads": "unset", "nice": 10, "load_average": "1", "data": "generated",
            "sequences": seq,
            "peers": {"size": "480x360", "ms": {"ours": 50.0, "hrnet": 100.0}, "labels": {"hrnet": "HRNet"},
                      "skipped": {"sam": "segment-anything is not installed"}},
            "engines": {"size": "480x360", "ms": {"torch": 50.0, "openvino": 25.0},
                        "p95_ms": {"torch": 55.0, "openvino": 30.0}, "max_diff": {"torch": 0.0, "openvino": 1e-6},
                        "compile_s": {"openvino": 3.0}, "skipped": {}}}


def test_section_states_ratios_targets_and_the_cpu():
    sec = b.section(_record())
    md = sec.markdown()
    assert "AMD EPYC" in md and "CPU flags: avx2 fma" in md
    assert "peer sam skipped: segment-anything is not installed" in md
    assert "| HRNet, per click = per image | 100 | 2.00× |" in md
    assert "| openvino | 25.0 | 30.0 | 0.50× |" in md
    met = {t.benchmark.split(" (")[0]: t.met for t in sec.targets}
    assert met["click → mask p95 on correction sequences, annotator defaults"] is False  # 2.5 > 2.0
    assert met["click → mask p50, same"] is True                                        # 1.2 <= 1.3
    assert met["f-BRS worst case"] is None  # no negative click measured: not judged


def test_a_missing_peer_package_is_skipped_with_a_clear_line(monkeypatch):
    real = builtins.__import__

    def no_peers(name, *args, **kwargs):
        if name.split(".")[0] in ("timm", "segment_anything"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_peers)
    assert "timm is not installed" in b.hrnet_ocr()
    assert "segment-anything is not installed" in b.sam_vit_b()


def test_ocr_head_gives_one_logit_per_pixel():
    import torch

    head = b._OCRHead([8, 16]).eval()
    with torch.inference_mode():
        out = head([torch.randn(1, 8, 12, 16), torch.randn(1, 16, 6, 8)])
    assert out.shape == (1, 1, 12, 16) and bool(torch.isfinite(out).all()) and not np.allclose(out.numpy(), 0)
