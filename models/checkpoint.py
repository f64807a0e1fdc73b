"""Checkpoint files: architecture spec + state dict + metadata, loaded safely (weights_only).

A checkpoint is a torch-saved dict:
  {"format": "ifcn-checkpoint", "version": 1, "spec": ModelSpec.to_dict(), "state_dict": {...},
   "meta": {...training data, epochs, val IoU/NoC...}, "extra": {...resumable training state...}}
Only tensors, numbers, strings, lists and dicts are allowed, so `torch.load(weights_only=True)` reads it
and a file carrying a pickled code payload is refused without running anything. Before torch.load runs,
every size the file declares is checked against the architecture its spec builds (models.checkpoint_scan).
"""
from __future__ import annotations

import io
import pickle
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

import torch

from models import checkpoint_scan as scan
from models.errors import CheckpointError
from models.fcn import IFCN, build_ifcn
from models.fileio import atomic_write_bytes
from models.spec import ModelSpec

FORMAT = "ifcn-checkpoint"
VERSION = 1


@dataclass
class Loaded:
    """A loaded checkpoint: the rebuilt model (eval mode, on map_location) and its records."""

    model: IFCN
    spec: ModelSpec
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _unwrap(model: torch.nn.Module) -> IFCN:
    return getattr(model, "module", model)  # DistributedDataParallel / compiled wrappers


def save_checkpoint(path: str | Path, model: torch.nn.Module, meta: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None, half: bool = False) -> None:
    """Atomically write `model` (an IFCN) with its spec, `meta` and resumable `extra` state."""
    net = _unwrap(model)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {"format": FORMAT, "version": VERSION, "spec": net.spec.to_dict(),
               "state_dict": state, "meta": dict(meta or {}), "extra": dict(extra or {})}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


@contextmanager
def _named(path: Path) -> Iterator[None]:
    """Prefix the file's name to the CheckpointError raised inside."""
    try:
        yield
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


@contextmanager
def _opened(path: Path) -> Iterator[IO[bytes]]:
    if not path.exists():
        raise CheckpointError("checkpoint file not found.")
    if not path.is_file():
        raise CheckpointError("not a regular file.")
    try:
        if path.stat().st_size == 0:
            raise CheckpointError("the checkpoint file is empty.")
        f = open(path, "rb")
    except OSError as e:
        raise CheckpointError(f"cannot be read ({e.strerror or e}).") from None
    with f:
        yield f


def _scan(f: IO[bytes]) -> tuple[scan.Skeleton, ModelSpec]:
    """The checked skeleton of an open checkpoint and the spec it declares (nothing materialised)."""
    skel = scan.read_skeleton(f)
    scan.check_header(skel.payload, FORMAT, VERSION)
    scan.check_plain(skel)
    if any(isinstance(v, scan.TensorRef) for _, v in scan.walk(skel.payload.get("meta") or {})):
        raise CheckpointError("its 'meta' holds tensors; it is for plain records.")
    try:
        spec = ModelSpec.from_dict(scan.check_spec(skel.payload["spec"]))
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"invalid model spec: {e}") from None
    return skel, spec


def _build(spec: ModelSpec, device: str | None = None) -> IFCN:
    try:
        if device is None:
            return build_ifcn(spec, weights=None)
        with torch.device(device):
            return build_ifcn(spec, weights=None)
    except Exception as e:
        raise CheckpointError(f"cannot build the model it describes ({e}).") from None


def _torch_load(f: IO[bytes], map_location: Any) -> dict[str, Any]:
    f.seek(0)
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            "refused to load — the file holds Python objects other than tensors and plain "
            f"data, which could run code ({str(e).splitlines()[0][:200]}).") from None
    except (EOFError, zipfile.BadZipFile, RuntimeError, OSError, ValueError, TypeError, MemoryError,
            AttributeError, KeyError, IndexError, UnicodeDecodeError) as e:
        raise CheckpointError(f"not a readable checkpoint (truncated or corrupt: {e}).") from None


def read_meta(path: str | Path) -> dict[str, Any]:
    """The spec and metadata of a checkpoint, checked against the architecture but without loading weights."""
    path = Path(path)
    with _named(path), _opened(path) as f:
        skel, spec = _scan(f)
        scan.check_against(skel, scan.expected_state(_build(spec, "meta")), spec.name)
    return {"spec": spec.to_dict(), **dict(skel.payload.get("meta") or {})}


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> Loaded:
    """Rebuild the model described by the file and load its weights; CheckpointError naming the file.

    Every declared tensor size is checked against the architecture before anything is read
    (models.checkpoint_scan), and the weights are checked (finite, in range) before they are used.
    """
    path = Path(path)
    with _named(path):
        with _opened(path) as f:
            skel, spec = _scan(f)
            scan.check_against(skel, scan.expected_state(_build(spec, "meta")), spec.name)
            payload = _torch_load(f, map_location)
        state = payload.get("state_dict") if isinstance(payload, dict) else None
        declared = skel.payload["state_dict"]
        if not isinstance(state, dict) or state.keys() != declared.keys() or any(
                not isinstance(v, torch.Tensor) or tuple(v.shape) != declared[k].shape
                or v.dtype != declared[k].dtype for k, v in state.items()):
            raise CheckpointError("the file changed while it was being read.")
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        scan.check_values(state)
        model = _build(spec)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()
            detail = " ".join(line.strip() for line in first[:3])[:400]
            raise CheckpointError(
                f"the weights do not match the {spec.name} architecture it declares ({detail}).") from None
    model.eval()
    return Loaded(model=model, spec=spec, meta=dict(payload.get("meta") or {}),
                  extra=dict(payload.get("extra") or {}), path=path)
