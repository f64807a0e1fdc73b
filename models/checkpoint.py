"""Checkpoint files: architecture spec + state dict + metadata, loaded safely (weights_only).

A checkpoint is a torch-saved dict:
  {"format": "ifcn-checkpoint", "version": 1, "spec": ModelSpec.to_dict(), "state_dict": {...},
   "meta": {...training data, epochs, val IoU/NoC...}, "extra": {...resumable training state...}}
Only tensors, numbers, strings, lists and dicts are allowed, so `torch.load(weights_only=True)` reads it
and a file carrying a pickled code payload is refused without running anything.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

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


def _read(path: Path, map_location: Any) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint file is empty.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path}: refused to load — the file holds Python objects other than tensors and plain "
            f"data, which could run code ({str(e).splitlines()[0][:200]}).") from None
    except (EOFError, zipfile.BadZipFile, RuntimeError, OSError, ValueError, TypeError,
            AttributeError, KeyError, IndexError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt: {e}).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = ""
        if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
            hint = " It looks like a bare state dict; ifcn checkpoints also carry the architecture spec."
        raise CheckpointError(f"{path}: not an ifcn checkpoint.{hint}")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is newer than this "
                              f"program understands ({VERSION}); update ifcn-annotator.")
    return payload


def read_meta(path: str | Path) -> dict[str, Any]:
    """The spec and metadata of a checkpoint, without building the model."""
    payload = _read(Path(path), "cpu")
    return {"spec": payload.get("spec", {}), **dict(payload.get("meta") or {})}


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> Loaded:
    """Rebuild the model described by the file and load its weights; CheckpointError naming the file."""
    path = Path(path)
    payload = _read(path, map_location)
    try:
        spec = ModelSpec.from_dict(payload["spec"])
    except KeyError:
        raise CheckpointError(f"{path}: the checkpoint has no architecture spec.") from None
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    try:
        model = build_ifcn(spec, weights=None)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot build the model it describes ({e}).") from None
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the checkpoint has no state dict.")
    state = {k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
             for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()
        detail = " ".join(line.strip() for line in first[:3])[:400]
        raise CheckpointError(
            f"{path}: the weights do not match the {spec.name} architecture it declares ({detail}).") from None
    model.eval()
    return Loaded(model=model, spec=spec, meta=dict(payload.get("meta") or {}),
                  extra=dict(payload.get("extra") or {}), path=path)
