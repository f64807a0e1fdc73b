"""The optional backbone engines (ONNX Runtime, OpenVINO) and the predictor's per-stage timings."""
from __future__ import annotations

import numpy as np
import pytest

from models import engines
from models.clicks import Click
from models.predictor import Predictor
from tests.models.helpers import random_model

H, W = 70, 90  # odd sizes: the TF "same" padding of EfficientNet-Lite differs from an even size's
CLICKS = [[Click(45, 35, True)], [Click(45, 35, True), Click(10, 60, False)],
          [Click(45, 35, True), Click(10, 60, False), Click(70, 20, True)]]


def _image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 80, (H, W, 3), dtype=np.uint8)
    img[20:50, 30:65] = (200, 60, 40)
    return img


@pytest.fixture(scope="module")
def model():
    return random_model("efficientnet_lite0")


def _pair(model, engine: str, brs: bool):
    """(eager predictor, engine predictor) on the same image; the engine compiles in the foreground."""
    kw = {} if brs else {"brs": None}
    eager, fast = Predictor(model, device="cpu", **kw), Predictor(model, device="cpu", engine=engine, **kw)
    assert fast._engine is not None and fast._engine.name == engine
    fast._engine.background = False
    for p in (eager, fast):
        p.set_image(_image())
    return eager, fast


@pytest.mark.parametrize("stride", [8, 4])
@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_engine_outputs_match_pytorch(model, name, stride, monkeypatch):
    """Predictions through the engine equal eager PyTorch's within 1e-4; with f-BRS on, the features it
    optimises from are the same within 1e-4 (its output also depends on its time budget, so on the clock);
    the engine really ran (the size is compiled, its check recorded). FCN-8s and FCN-4s (four feature maps)."""
    if not engines.available(name):
        pytest.skip(f"{name} is not installed (pip install '.[bench]')")
    import torch

    if stride != 8:
        model = random_model("efficientnet_lite0", stride=stride)

    import models.predictor as predictor_module

    seen = []
    original = predictor_module.refine_logits

    def spy(net, feats, *args, **kwargs):
        with torch.no_grad():
            seen.append(torch.sigmoid(net.head(feats, args[1])))
        return original(net, feats, *args, **kwargs)

    monkeypatch.setattr(predictor_module, "refine_logits", spy)
    for brs in (False, True):
        eager, fast = _pair(model, name, brs)
        for clicks in CLICKS:
            want, got = eager.predict(clicks), fast.predict(clicks)
            if brs:
                assert float((seen[-2] - seen[-1]).abs().max()) <= engines.TOLERANCE
            else:
                assert np.abs(want - got).max() <= engines.TOLERANCE
        assert fast.info()["engine"] == name
        (shape,) = fast._engine.max_diff
        assert shape[-2:] == (H, W) and fast._engine.ready(shape)
        assert fast._engine.max_diff[shape] <= engines.TOLERANCE
    assert len(seen) == 2 * len(CLICKS)


def test_a_size_whose_outputs_differ_keeps_pytorch(model, monkeypatch):
    """An engine that returns wrong features is rejected for that size: the predictor's output stays
    PyTorch's."""
    def broken(graph, threads):
        return lambda x: [np.zeros((1, 40, 9, 12), np.float32)] * 3

    monkeypatch.setattr(engines, "available", lambda name: True)
    monkeypatch.setitem(engines._BUILDERS, "onnxruntime", broken)
    monkeypatch.setattr(engines, "export_features", lambda net, x: b"")
    eager, fast = _pair(model, "onnxruntime", brs=False)
    for clicks in CLICKS:  # to float rounding: eager PyTorch differs from itself by an ulp between runs
        np.testing.assert_allclose(fast.predict(clicks), eager.predict(clicks), rtol=0, atol=1e-6)
    (shape,) = fast._engine.max_diff
    assert not fast._engine.ready(shape)


def test_background_compile_answers_pytorch_until_ready(model, monkeypatch):
    """Before its size is compiled the engine answers None, and the predictor runs PyTorch."""
    monkeypatch.setattr(engines, "available", lambda name: True)
    started = []
    monkeypatch.setattr(engines.FeatureEngine, "_build", lambda self, shape, x: started.append(shape))
    eng = engines.make_engine(model, "openvino")
    import torch

    x = torch.zeros(1, 5, H, W)
    assert eng.features(x) is None and eng.features(x) is None
    for _ in range(100):  # the compile thread starts once for the size, however often it is asked
        if started:
            break
        import time
        time.sleep(0.01)
    assert started == [(1, 5, H, W)]


def test_engine_names(model, monkeypatch):
    assert engines.make_engine(model, "torch") is None
    with pytest.raises(ValueError, match="unknown inference engine"):
        engines.make_engine(model, "tensorrt")
    monkeypatch.setattr(engines, "available", lambda name: False)
    assert engines.make_engine(model, "auto") is None
    with pytest.raises(ValueError, match="not installed"):
        engines.make_engine(model, "openvino")
    assert Predictor(model, device="cpu").info()["engine"] == "torch"


def test_last_timings_break_a_click_down_by_stage(model):
    """predict() exposes milliseconds per stage; a cached click list runs no network, only GrabCut."""
    p = Predictor(model, device="cpu")
    assert p.last_timings == {}
    big = np.repeat(np.repeat(_image(), 2, 0), 2, 1)  # downscaled to max_size, so the resize stage runs
    p.max_size = 100
    p.set_image(big)
    clicks = [Click(90, 70, True), Click(20, 120, False)]
    p.predict(clicks)
    t = p.last_timings
    assert {"inputs", "network", "brs", "snap", "resize", "total"} <= set(t) and "refine" not in t
    assert all(v >= 0 for v in t.values())
    assert t["network"] > 0
    assert t["total"] >= t["inputs"] + t["network"] + t["brs"] + t["snap"] + t["resize"] - 1e-6
    p.predict(clicks, refine=True)  # the preview's network output is reused
    t = p.last_timings
    assert "network" not in t and "snap" not in t and t["refine"] > 0 and t["total"] >= t["refine"]
    plain = Predictor(model, device="cpu", brs=None)
    plain.set_image(big)
    plain.predict_work(clicks)
    assert "brs" not in plain.last_timings and "resize" not in plain.last_timings
    assert plain.last_timings["total"] >= plain.last_timings["network"] > 0


def _shifted(builder, by: float):
    """A real engine whose features are moved by `by` (0.01: probabilities off by ~1e-3, a mismatch the
    equivalence check must catch; 0.001 would stay within 1e-4 on the random model)."""
    def build(graph, threads):
        run = builder(graph, threads)
        return lambda x: [o + np.float32(by) for o in run(x)]
    return build


def _auto_pair(model, monkeypatch, builders: dict):
    """(eager, auto) predictors on the same image, `builders` as the installed engines (fastest first);
    the auto engine compiles in the foreground, on set_image (the prewarm)."""
    monkeypatch.setattr(engines, "PREFERENCE", tuple(builders))
    monkeypatch.setattr(engines, "available", lambda name: name in builders)
    for name, build in builders.items():
        monkeypatch.setitem(engines._BUILDERS, name, build)
    eager, auto = Predictor(model, device="cpu", brs=None), Predictor(model, device="cpu", brs=None, engine="auto")
    assert auto._engine is not None and auto._engine.candidates == tuple(builders)
    auto._engine.background = False
    for p in (eager, auto):
        p.set_image(_image())
    return eager, auto


def test_auto_uses_the_first_engine_that_matches(model, monkeypatch):
    """"auto": a preferred engine whose features are off by 0.01 (probabilities by ~1e-3) is passed over for the next one, which runs
    the size (compiled on set_image, before the first click) with outputs within 1e-4 of PyTorch's."""
    if not engines.available("onnxruntime"):
        pytest.skip("onnxruntime is not installed (pip install '.[bench]')")
    real = engines._BUILDERS["onnxruntime"]
    eager, auto = _auto_pair(model, monkeypatch, {"openvino": _shifted(real, 1e-2), "onnxruntime": real})
    (shape,) = auto._engine.used
    assert auto._engine.used[shape] == "onnxruntime" and auto._engine.ready(shape)
    assert auto.info()["engine"] == "auto (onnxruntime)"
    for clicks in CLICKS:
        assert np.abs(eager.predict(clicks) - auto.predict(clicks)).max() <= engines.TOLERANCE


def test_auto_falls_back_to_pytorch_when_no_engine_matches(model, monkeypatch):
    """Every installed engine either fails to compile or mismatches (a real engine, features off by 0.01): the
    predictor runs PyTorch, silently: its outputs are eager PyTorch's (to float rounding: eager PyTorch differs
    from itself by an ulp between runs), not the mismatching engine's (off by > 1e-4)."""
    if not engines.available("onnxruntime"):
        pytest.skip("onnxruntime is not installed (pip install '.[bench]')")

    def cannot_compile(graph, threads):
        raise RuntimeError("unsupported operator")

    eager, auto = _auto_pair(model, monkeypatch, {"openvino": cannot_compile,
                                                   "onnxruntime": _shifted(engines._BUILDERS["onnxruntime"], 1e-2)})
    (shape,) = auto._engine.used
    assert auto._engine.used[shape] == "torch" and not auto._engine.ready(shape)
    assert auto._engine.max_diff[shape] > engines.TOLERANCE
    assert auto.info()["engine"] == "auto (torch)"
    for clicks in CLICKS:
        np.testing.assert_allclose(auto.predict(clicks), eager.predict(clicks), rtol=0, atol=1e-6)


def test_auto_without_engines_is_pytorch(model, monkeypatch):
    """No engine package installed: "auto" is plain PyTorch (no engine object, no error, same outputs)."""
    monkeypatch.setattr(engines, "available", lambda name: False)
    eager, auto = Predictor(model, device="cpu", brs=None), Predictor(model, device="cpu", brs=None, engine="auto")
    assert auto._engine is None and auto.info()["engine"] == "torch"
    for p in (eager, auto):
        p.set_image(_image())
    np.testing.assert_allclose(auto.predict(CLICKS[1]), eager.predict(CLICKS[1]), rtol=0, atol=1e-6)


def test_set_engine_prewarms_the_image_size_in_the_background(model, monkeypatch):
    """set_engine on a predictor with an image starts the size's compile at once, without waiting for it;
    the next click then runs through the engine; "torch" drops the engine."""
    import threading

    gate, built = threading.Event(), []
    monkeypatch.setattr(engines, "available", lambda name: True)
    monkeypatch.setattr(engines, "PREFERENCE", ("openvino",))
    monkeypatch.setattr(engines, "export_in_child", lambda net, x: b"")

    def slow(graph, threads):
        gate.wait(10)  # the compile is held until the test lets it go: set_engine must not wait for it
        built.append(threading.current_thread().name)
        return lambda x: [t.numpy() for t in engines._Features(model.eval())(__import__("torch").from_numpy(x))]

    monkeypatch.setitem(engines._BUILDERS, "openvino", slow)
    p = Predictor(model, device="cpu", brs=None)
    p.set_image(_image())
    p.set_engine("auto")
    shape = (1, 5, H, W)
    assert not p._engine.ready(shape)
    gate.set()
    for _ in range(500):
        if p._engine.ready(shape):
            break
        __import__("time").sleep(0.01)
    assert p._engine.ready(shape) and built == ["ifcn-auto-compile"]
    p.predict(CLICKS[0])
    assert p.info()["engine"] == "auto (openvino)"
    p.set_engine("torch")
    assert p._engine is None and p.info()["engine"] == "torch"


def test_exit_while_a_size_compiles_in_the_background(tmp_path):
    """Closing the program right after an image opens (its size compiling in the background) exits cleanly:
    a compile thread left inside the exporter while the interpreter finalises aborted the process (exit 134,
    "terminate called without an active exception")."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    name = next((n for n in ("openvino", "onnxruntime") if engines.available(n)), None)
    if name is None:
        pytest.skip("no engine installed (pip install '.[bench]')")
    root = Path(__file__).resolve().parents[2]
    code = ("import numpy as np, threading\n"
            "from models.predictor import Predictor\n"
            "from tests.models.helpers import random_model\n"
            f"p = Predictor(random_model('efficientnet_lite0'), device='cpu', engine={name!r})\n"
            "p.set_image(np.zeros((200, 300, 3), np.uint8))\n"
            "print('compiling' if any(t.name.endswith('-compile') for t in threading.enumerate()) else 'idle')\n")
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1")
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], cwd=str(root), env=env, capture_output=True, text=True,
                              timeout=240)
        assert proc.returncode == 0 and "terminate called" not in proc.stderr, (proc.returncode, proc.stderr[-2000:])
        assert proc.stdout.strip() == "compiling"


def test_background_export_runs_in_a_child_process(model):
    """The background compile exports in a child process (the exporter holds the GIL for long stretches,
    which would freeze the GUI thread), and its graph is the same one an in-process export gives: the engine
    built from it matches PyTorch within the tolerance."""
    import torch

    name = next((n for n in ("openvino", "onnxruntime") if engines.available(n)), None)
    if name is None:
        pytest.skip("no engine installed (pip install '.[bench]')")
    x = torch.randn(1, 5, H, W)
    graph = engines.export_in_child(model.eval(), x)
    child = engines._SERVER._proc
    assert child is not None and child.poll() is None and child.pid != __import__("os").getpid()
    assert graph[:2] == engines.export_features(model.eval(), x)[:2] and len(graph) > 10_000
    eng = engines.FeatureEngine(model, name)
    assert eng._check(engines._BUILDERS[name](graph, 1), x) <= engines.TOLERANCE
    # another size: the same process (torch imported once per session)
    x2 = torch.randn(1, 5, H + 6, W - 10)
    assert eng._check(engines._BUILDERS[name](engines.export_in_child(model.eval(), x2), 1), x2) <= engines.TOLERANCE
    assert engines._SERVER._proc is child


def test_a_failing_exporter_process_keeps_pytorch(model, monkeypatch):
    """A child exporter that fails (here: an unknown module in the pickled network) is reported in the log and
    the size keeps PyTorch; nothing is raised into the predictor."""
    import torch

    monkeypatch.setattr(engines, "available", lambda name: True)
    monkeypatch.setattr(engines, "PREFERENCE", ("openvino",))
    eng = engines.make_engine(model, "auto")

    def child_fails(net, x):
        raise RuntimeError("the exporter process failed (exit 1): ModuleNotFoundError")

    monkeypatch.setattr(engines, "export_in_child", child_fails)
    x = torch.zeros(1, 5, H, W)
    assert eng.features(x) is None
    for _ in range(500):
        if tuple(x.shape) in eng.used:
            break
        __import__("time").sleep(0.01)
    assert eng.used[tuple(x.shape)] == "torch" and not eng.ready(tuple(x.shape))


def test_with_zoom_in_the_zoomed_crops_size_compiles_from_the_start(model, monkeypatch):
    """Zoom-in pads every zoomed crop to one size (`models.zoom`): the engine starts compiling it when the
    engine is made, before any image, so the first zoomed click finds it ready; the benchmark's think time
    waits for it (`pending`)."""
    import threading
    import time

    from models.fcn import padded_size
    from models.predictor import ZoomIn

    gate = threading.Event()
    monkeypatch.setattr(engines, "available", lambda name: True)
    monkeypatch.setattr(engines, "PREFERENCE", ("openvino",))
    monkeypatch.setattr(engines, "export_in_child", lambda net, x: b"")

    def held(graph, threads):
        gate.wait(10)
        return lambda x: [t.numpy() for t in engines._Features(model.eval())(__import__("torch").from_numpy(x))]

    monkeypatch.setitem(engines._BUILDERS, "openvino", held)
    p = Predictor(model, device="cpu", brs=None, zoom_in=ZoomIn(target=96, min_crop=16))
    p.set_engine("auto")
    t = padded_size(96)
    assert p._engine.compiling((1, 5, t, t)) and p._engine.pending()
    gate.set()
    for _ in range(500):
        if p._engine.ready((1, 5, t, t)):
            break
        time.sleep(0.01)
    assert p._engine.ready((1, 5, t, t)) and not p._engine.pending()
