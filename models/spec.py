"""The architecture spec stored in every checkpoint: enough to rebuild the model from the file alone."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from models.errors import CheckpointError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STRIDES = (4, 8, 16, 32)
UPSAMPLES = ("deconv", "bilinear")
EXTRA_INITS = ("zero", "mean")
#: Architectures of the learned refiner a checkpoint may carry (`extra["refiner"]`, see `models.refiner`).
REFINER_ARCHS = ("refiner-v1",)
REFINER_WIDTHS = range(4, 65)
#: What the refiner refines: the network's probability, that probability edge-snapped, or edge-snapped and then
#: colour-refined (the refiner then runs after colour refinement, when that is on).
REFINER_INPUTS = ("network", "snapped", "colour")


def check_extra(extra: dict[str, Any]) -> None:
    """ValueError unless `extra` holds only what this version understands: an optional learned refiner
    {"arch": one of REFINER_ARCHS, "width": 4..64, optionally "input": one of REFINER_INPUTS}."""
    if not isinstance(extra, dict):
        raise ValueError("extra must be a mapping")
    unknown = set(extra) - {"refiner"}
    if unknown:
        raise ValueError(f"extra has unknown fields {sorted(unknown)}")
    r = extra.get("refiner")
    if r is None:
        return
    if not isinstance(r, dict) or not {"arch", "width"} <= set(r) <= {"arch", "width", "input"} \
            or r["arch"] not in REFINER_ARCHS or type(r["width"]) is not int or r["width"] not in REFINER_WIDTHS \
            or r.get("input", "network") not in REFINER_INPUTS:
        raise ValueError(f"extra['refiner'] must be {{'arch': one of {REFINER_ARCHS}, 'width': 4..64, 'input': "
                         f"one of {REFINER_INPUTS}}}, got {r!r}")


@dataclass(frozen=True)
class ModelSpec:
    """iFCN architecture: backbone, FCN stride, upsampling, extra-channel init, input normalisation.

    RGB is scaled to [0, 1] then normalised by (mean, std); each distance map is divided by `clamp`.
    """

    backbone: str = "resnet18"
    stride: int = 8
    upsample: str = "deconv"
    extra_init: str = "mean"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    clamp: float = 255.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: a sixth input channel: the previous prediction's probability (RITM's previous-mask input; zero before the
    #: first click). Checkpoints without the field are the plain 5-channel iFCN.
    prev_mask: bool = False

    def __post_init__(self) -> None:
        if self.stride not in STRIDES:
            raise ValueError(f"stride must be one of {STRIDES}, got {self.stride}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, got {self.upsample!r}")
        if self.extra_init not in EXTRA_INITS:
            raise ValueError(f"extra_init must be one of {EXTRA_INITS}, got {self.extra_init!r}")
        if self.clamp <= 0:
            raise ValueError("clamp must be positive")
        if type(self.prev_mask) is not bool:
            raise ValueError(f"prev_mask must be true or false, got {self.prev_mask!r}")
        check_extra(self.extra)

    @property
    def name(self) -> str:
        """Short human name, e.g. 'resnet18 FCN-8s' ('+ previous mask' with that input, '+ refiner' when it
        carries a learned refiner)."""
        return (f"{self.backbone} FCN-{self.stride}s" + (" + previous mask" if self.prev_mask else "")
                + (" + refiner" if self.refiner is not None else ""))

    @property
    def in_channels(self) -> int:
        """Input channels: RGB, U_pos, U_neg (and the previous mask with `prev_mask`)."""
        return 6 if self.prev_mask else 5

    @property
    def refiner(self) -> dict[str, Any] | None:
        """The learned refiner's {"arch", "width"[, "input"]}, or None when the model has none."""
        return self.extra.get("refiner")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able) form."""
        d = asdict(self)
        if not self.prev_mask:  # the plain iFCN's spec stays as files without the field wrote it
            del d["prev_mask"]
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        """Rebuild from `to_dict()` output; CheckpointError on unknown or invalid fields."""
        if not isinstance(d, dict):
            raise CheckpointError("model spec is not a mapping")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise CheckpointError(f"model spec has unknown fields {sorted(unknown)}")
        kw = dict(d)
        for k in ("mean", "std"):
            if k in kw:
                kw[k] = tuple(float(v) for v in kw[k])
        try:
            return cls(**kw)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"invalid model spec: {e}") from None
