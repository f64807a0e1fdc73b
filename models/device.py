"""Choosing the torch device: CUDA, then Apple MPS, then CPU."""
from __future__ import annotations

import torch

from models.errors import IFCNError


def available_devices() -> list[str]:
    """Names of the devices usable on this machine, best first."""
    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    out.append("cpu")
    return out


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn 'auto' / 'cuda' / 'cpu' / 'mps' (or a torch.device) into a usable torch.device."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    base = name.split(":")[0]
    if base not in ("cuda", "mps", "cpu"):
        raise IFCNError(f"Unknown device {device!r}: use auto, cuda, mps or cpu.")
    if base != "cpu" and base not in available_devices():
        raise IFCNError(f"Device {device!r} was requested but is not available on this machine.")
    return torch.device(name)
