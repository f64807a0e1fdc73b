"""Optional inference engines for the network's backbone: ONNX Runtime or OpenVINO on the CPU.

The predictor's backbone forward (`IFCN.features`, the costly part) can run through a graph exported with
`torch.onnx.export`; the FCN head stays in PyTorch, so f-BRS differentiates it as before. The graph is
exported per input size (the TF "same" padding and the small-input padding depend on it), by a background
thread the first time a size is seen (the export itself in one child process for the session: it would hold
this process's GIL for up to ~0.6 s at a time and freeze the GUI); until it is ready, and for a size whose outputs do not match
PyTorch's, `features` answers None and the predictor runs PyTorch. A compiled size is checked once on the
input that triggered it: the head's probabilities from the engine's features must lie within `TOLERANCE`
of PyTorch's, or that size keeps PyTorch. "auto" tries the installed engines fastest first (`PREFERENCE`)
per size and keeps the first that passes; when none passes, or none is installed, PyTorch runs, silently
(a log line only). Nothing is downloaded: the graph comes from the network in memory.

    eng = make_engine(net, "auto")     # None when neither package is installed (or "torch")
    eng.prepare(x, wait=False)         # start compiling x's size in the background (e.g. on a new image)
    feats = eng.features(x)            # {8: ..., 16: ..., 32: ...} or None (not compiled yet / rejected)
"""
from __future__ import annotations

import atexit
import copy
import importlib.util
import io
import logging
import os
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["ENGINES", "PACKAGES", "PREFERENCE", "TOLERANCE", "FeatureEngine", "available", "export_features",
           "make_engine"]

log = logging.getLogger(__name__)

#: Engine names: "torch" (eager, no engine), "onnxruntime", "openvino", or "auto" (per input size, the first
#: installed engine of `PREFERENCE` whose outputs match PyTorch's; PyTorch when none does).
ENGINES = ("torch", "auto", "onnxruntime", "openvino")
#: Fastest first, as measured by benchmarks/bench_latency_real.py (see benchmarks/RESULTS.md).
PREFERENCE = ("openvino", "onnxruntime")
PACKAGES = {"onnxruntime": ("onnxruntime", "onnx"), "openvino": ("openvino", "onnx")}
#: Largest allowed |probability difference| between the engine's and PyTorch's output.
TOLERANCE = 1e-4
_SIZES = 4  # compiled input sizes kept
_closing = threading.Event()  # set at interpreter exit: compiles stop at their next stage
_compiles: set[threading.Thread] = set()
_children: set[subprocess.Popen] = set()  # exporter processes (stopped at exit)


@atexit.register
def _finish_compiles(timeout_s: float = 60.0) -> None:
    """At exit, let running compiles stop at their next stage: a compile thread still inside the exporter or
    an engine's compiler while the interpreter finalises aborts the process ("terminate called ...")."""
    _closing.set()
    for child in list(_children):
        child.kill()
    for t in list(_compiles):
        t.join(timeout_s)


def available(name: str) -> bool:
    """True when the packages engine `name` needs are installed."""
    return all(importlib.util.find_spec(p) is not None for p in PACKAGES.get(name, ("-",)))


class _Features(nn.Module):
    """`net.features` as a module with a tuple output (strides ascending), for export."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f = self.net.features(x)
        return tuple(f[s] for s in sorted(f))


def export_features(net: nn.Module, x: torch.Tensor) -> bytes:
    """The ONNX graph (bytes) of `net.features` for inputs of x's shape."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Features(net).eval(), (x.contiguous(),), buf, dynamo=False, opset_version=17,
                          input_names=["x"], do_constant_folding=True)
    return buf.getvalue()


class _ExportServer:
    """One child Python process (started on the first background export, kept for the session) that runs
    `export_features`: the exporter's graph passes hold the GIL for up to ~0.6 s at a time, which would freeze
    the GUI's event loop on a thread of this process; one process for all sizes pays torch's import once."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            root = str(Path(__file__).resolve().parents[1])
            env = dict(os.environ, OMP_NUM_THREADS="1",
                       PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
            self._proc = subprocess.Popen([sys.executable, "-m", "models.engines", "--serve"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=root)
            _children.add(self._proc)
        return self._proc

    def export(self, net: nn.Module, x: torch.Tensor) -> bytes:
        """The ONNX graph of `net.features` for x's shape, exported in the child."""
        buf = io.BytesIO()
        torch.save({"net": net, "shape": tuple(x.shape)}, buf)
        with self._lock:
            if _closing.is_set():
                raise RuntimeError("closing")
            proc = self._ensure()
            try:
                _send(proc.stdin, buf.getvalue())
                reply = _receive(proc.stdout)
            except (OSError, ValueError) as e:
                proc.kill()
                raise RuntimeError(f"the exporter process ended ({e})") from None
        if reply[:1] != b"\0":
            raise RuntimeError(f"the exporter process failed: {reply[1:].decode('utf-8', 'replace')[-300:]}")
        return reply[1:]


def _send(stream, data: bytes) -> None:
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream) -> bytes:
    head = stream.read(8)
    if len(head) < 8:
        raise ValueError("no reply")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise ValueError("a cut reply")
    return data


_SERVER = _ExportServer()


def export_in_child(net: nn.Module, x: torch.Tensor) -> bytes:
    """`export_features` in the session's exporter process (see `_ExportServer`)."""
    return _SERVER.export(net, x)


def _serve() -> None:
    """`python -m models.engines --serve`: jobs {net, shape} (length-prefixed, pickled) on stdin, each answered
    on stdout by b"\0" + the ONNX graph, or b"\1" + the error."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the exporter prints must not corrupt the replies
    if hasattr(os, "nice"):
        os.nice(10)  # the clicks meanwhile run PyTorch in the parent: they come first
    torch.set_num_threads(1)
    inp = sys.stdin.buffer
    while True:
        try:
            job = torch.load(io.BytesIO(_receive(inp)), weights_only=False)  # from the parent process only
        except ValueError:
            return  # the parent closed the pipe
        try:
            reply = b"\0" + export_features(job["net"], torch.zeros(job["shape"]))
        except Exception as e:
            reply = b"\1" + f"{type(e).__name__}: {e}".encode()
        _send(out, reply)


def _onnxruntime(graph: bytes, threads: int) -> Callable[[np.ndarray], list[np.ndarray]]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(graph, so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"x": x})


def _openvino(graph: bytes, threads: int) -> Callable[[np.ndarray], list[np.ndarray]]:
    import openvino as ov

    core = ov.Core()
    with tempfile.TemporaryDirectory() as d:  # read_model takes a file for ONNX
        path = os.path.join(d, "features.onnx")
        with open(path, "wb") as f:
            f.write(graph)
        compiled = core.compile_model(core.read_model(path), "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    req = compiled.create_infer_request()
    outs = list(compiled.outputs)
    lock = threading.Lock()

    def run(x: np.ndarray) -> list[np.ndarray]:
        with lock:  # one request object: copies leave it before the next call
            res = req.infer({0: x})
            return [np.array(res[o]) for o in outs]
    return run


_BUILDERS = {"onnxruntime": _onnxruntime, "openvino": _openvino}


class FeatureEngine:
    """`net.features` through ONNX Runtime or OpenVINO, compiled per input size (see the module doc).

    `name` is an engine of `_BUILDERS`, or "auto" with `candidates` (tried in order for each size)."""

    def __init__(self, net: nn.Module, name: str, threads: int | None = None, background: bool = True,
                 candidates: tuple[str, ...] | None = None) -> None:
        self.candidates = tuple(candidates) if candidates is not None else (name,)
        if name == "auto" and candidates is None:
            raise ValueError("engine 'auto' needs its candidates (use make_engine)")
        unknown = [n for n in self.candidates if n not in _BUILDERS]
        if unknown or (name != "auto" and name not in _BUILDERS):
            raise ValueError(f"unknown engine {(unknown or [name])[0]!r}: one of {', '.join(_BUILDERS)}")
        self.name = name
        self.threads = int(threads or torch.get_num_threads())
        self.background = background
        self._net = copy.deepcopy(net).eval().requires_grad_(False)  # export never touches the live network
        self._strides: tuple[int, ...] = ()  # the keys of net.features' dict, in the graph's output order
        self._sizes: OrderedDict[tuple[int, ...], Callable | None] = OrderedDict()
        self._pending: set[tuple[int, ...]] = set()
        self._lock = threading.Lock()
        self.max_diff: dict[tuple[int, ...], float] = {}  # per compiled size: the check's |Δprob| (last tried)
        self.used: dict[tuple[int, ...], str] = {}  # per size: the engine that runs it ("torch": none passed)

    def describe(self) -> str:
        """What runs the backbone, for Model Info: "openvino", or "auto (openvino)" / "auto (torch)"."""
        with self._lock:
            ran = sorted({self.used[s] for s in self._sizes if s in self.used})
        if self.name != "auto":
            return self.name
        return f"auto ({', '.join(ran) if ran else 'torch until compiled'})"

    def ready(self, shape: tuple[int, ...]) -> bool:
        """True when inputs of `shape` run through the engine (compiled and matching)."""
        with self._lock:
            return self._sizes.get(tuple(shape)) is not None

    def compiling(self, shape: tuple[int, ...]) -> bool:
        """True while the engine for inputs of `shape` is being compiled (in the background)."""
        with self._lock:
            return tuple(shape) in self._pending

    def pending(self) -> bool:
        """True while any size is being compiled (in the background)."""
        with self._lock:
            return bool(self._pending)

    def prepare(self, x: torch.Tensor, wait: bool = True) -> bool:
        """Compile and check the engine for x's shape (in the background unless `wait`); True when ready."""
        shape = tuple(x.shape)
        with self._lock:
            if shape in self._sizes:
                return self._sizes[shape] is not None
            if shape in self._pending:
                start = False
            else:
                self._pending.add(shape)
                start = True
        sample = x.detach().contiguous().clone()
        if start and not wait:
            t = threading.Thread(target=self._build, args=(shape, sample), daemon=True,
                                 name=f"ifcn-{self.name}-compile")
            _compiles.add(t)
            t.start()
            return False
        if start:
            self._build(shape, sample)
        return self.ready(shape)

    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor] | None:
        """The backbone's features of `x` by stride, or None when this size is not (yet) compiled."""
        shape = tuple(x.shape)
        with self._lock:
            run = self._sizes.get(shape)
            if run is not None:
                self._sizes.move_to_end(shape)
        if run is None:
            if shape not in self._sizes:
                self.prepare(x, wait=not self.background)
                if self.background or not self.ready(shape):
                    return None
                return self.features(x)
            return None
        outs = run(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32))
        return {s: torch.from_numpy(np.ascontiguousarray(o)).to(x.device) for s, o in zip(self._strides, outs)}

    def _build(self, shape: tuple[int, ...], x: torch.Tensor) -> None:
        run, used = None, "torch"
        graph: bytes | None = None
        for name in self.candidates:
            try:
                if _closing.is_set():
                    break
                if graph is None:  # in the background: in a child process (see export_in_child)
                    graph = (export_in_child if self.background else export_features)(self._net, x)
                if _closing.is_set():
                    break
                cand = _BUILDERS[name](graph, self.threads)
                diff = self._check(cand, x)
                self.max_diff[shape] = diff
                if diff <= TOLERANCE:
                    run, used = cand, name
                    break
                log.info("%s: outputs differ from PyTorch by %.2g for input %s: not used for it",
                         name, diff, shape)
            except Exception as e:  # an engine that cannot take the graph must never break a prediction
                self.max_diff.setdefault(shape, float("inf"))
                log.info("%s: could not compile the network for input %s (%s): not used for it", name, shape, e)
        if run is None:
            log.info("no engine matched PyTorch for input %s: PyTorch runs it", shape)
        with self._lock:
            self._pending.discard(shape)
            self._sizes[shape] = run
            self.used[shape] = used
            while len(self._sizes) > _SIZES:
                old, _ = self._sizes.popitem(last=False)
                self.used.pop(old, None)
        _compiles.discard(threading.current_thread())

    def _check(self, run: Callable, x: torch.Tensor) -> float:
        """Max |probability difference| of the head on the engine's vs PyTorch's features of `x`."""
        with torch.inference_mode():
            ref = self._net.features(x)
            self._strides = tuple(sorted(ref))
            outs = run(np.ascontiguousarray(x.numpy(), dtype=np.float32))
            got = {s: torch.from_numpy(np.ascontiguousarray(o)) for s, o in zip(sorted(ref), outs)}
            if len(outs) != len(ref) or any(got[s].shape != ref[s].shape for s in ref):
                return float("inf")
            if not hasattr(self._net, "head"):
                return max(float((got[s] - ref[s]).abs().max()) for s in ref)
            size = x.shape[-2:]
            p_ref = torch.sigmoid(self._net.head(ref, size))
            p_got = torch.sigmoid(self._net.head(got, size))
            return float((p_ref - p_got).abs().max())


def make_engine(net: nn.Module, name: str = "auto", threads: int | None = None,
                background: bool = True) -> FeatureEngine | None:
    """The engine `name` for `net` ("auto": the installed ones of `PREFERENCE`), or None for PyTorch.

    A named engine whose package is missing raises ValueError; "auto" then falls back to None."""
    if name not in ENGINES:
        raise ValueError(f"unknown inference engine {name!r}: one of {', '.join(ENGINES)}")
    if name == "torch":
        return None
    if name == "auto":
        found = tuple(n for n in PREFERENCE if available(n))
        if not found:
            return None
        return FeatureEngine(net, "auto", threads=threads, background=background, candidates=found)
    if not available(name):
        raise ValueError(f"inference engine {name!r}: its package is not installed "
                         f"(pip install {' '.join(PACKAGES[name])})")
    return FeatureEngine(net, name, threads=threads, background=background)


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
