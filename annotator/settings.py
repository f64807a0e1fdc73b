"""User settings: defaults shipped in `resources/default_settings.json`, overridden by QSettings."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QSettings

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEFAULTS_FILE = RESOURCES / "default_settings.json"
ORGANIZATION = "ifcn"
APPLICATION = "annotator"
#: What may run the network's backbone (models.engines.ENGINES; kept here so settings never import torch).
ENGINES = ("torch", "auto", "onnxruntime", "openvino")
#: What refines the mask (models.colour_refine.REFINE_METHODS, kept here for the same reason).
REFINE_METHODS = ("colour", "grabcut")


@dataclass(frozen=True)
class Settings:
    """Everything the annotator remembers between runs (window geometry is stored separately)."""

    opacity: float = 0.5          # mask overlay opacity, 0..1
    threshold: float = 0.5        # probability threshold of the mask, 0..1
    refine: bool = True           # refinement of the model's mask with the photo's colours (key G)
    refine_method: str = "colour" # colour (models.colour_refine, fast) or grabcut (Model → Refine with GrabCut)
    device: str = "auto"          # auto / cuda / cpu
    engine: str = "auto"          # backbone on the CPU: auto (fastest installed that matches PyTorch) / torch / ...
    max_size: int = 1024          # working copy's longest side (masks made at it; the network sees <= 512 px)
    zoom_in: bool = True          # from the 2nd click on, the model looks at a crop around the object
    brs: bool = True              # f-BRS: a click the network ignores is enforced (NoC@90 11.86 / 19.86 -> 9.84 / 17.51)
    snap: bool = True             # edge snapping: the mask's boundary follows the photo's edges (models.edge_snap)
    learned_refiner: bool = True  # snapping runs the model's learned refiner when it has one (models.refiner)
    autosave: bool = True         # save on image switch, close and after each finished object
    protect_finished: bool = True # a new object's mask leaves finished objects' pixels alone
    show_clicks: bool = True      # draw click markers
    brush_size: int = 12          # brush radius in image pixels
    marker_size: int = 6          # click marker radius in screen pixels
    last_folder: str = ""
    recent_folders: str = ""      # File → Open Recent: a JSON list of folders, newest first (annotator.recent)

    def updated(self, **changes: Any) -> "Settings":
        """A copy with `changes` applied and values clamped to their valid range."""
        return _clamped(replace(self, **changes))


def _clamped(s: Settings) -> Settings:
    return replace(s, opacity=min(1.0, max(0.0, float(s.opacity))),
                   threshold=min(0.99, max(0.01, float(s.threshold))),
                   device=s.device if s.device in ("auto", "cuda", "cpu", "mps") else "auto",
                   engine=s.engine if s.engine in ENGINES else "auto",
                   refine_method=s.refine_method if s.refine_method in REFINE_METHODS else "colour",
                   max_size=min(4096, max(64, int(s.max_size))),
                   brush_size=min(500, max(1, int(s.brush_size))),
                   marker_size=min(30, max(2, int(s.marker_size))))


def _coerce(value: Any, like: Any) -> Any:
    if isinstance(like, bool):
        if isinstance(value, str):
            if value.lower() in ("true", "1", "yes"):
                return True
            if value.lower() in ("false", "0", "no"):
                return False
            raise ValueError(value)
        return bool(value)
    return type(like)(value)


def default_settings(path: Path = DEFAULTS_FILE) -> Settings:
    """Defaults from the shipped JSON file (built-in values for anything missing or invalid)."""
    base = Settings()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return base
    changes = {}
    for f in fields(Settings):
        if isinstance(data, dict) and f.name in data:
            try:
                changes[f.name] = _coerce(data[f.name], getattr(base, f.name))
            except (TypeError, ValueError):
                pass
    return _clamped(replace(base, **changes))


def open_qsettings() -> QSettings:
    """The user's settings store."""
    return QSettings(ORGANIZATION, APPLICATION)


#: Version of the stored settings; `save_settings` writes it. A store written before a version changed a default
#: for measured reasons keeps the new default where it still holds the old one (the user never chose otherwise,
#: or chose what was then the default): version 2 turned zoom-in on (MODEL_CARD, "Zoom-in on by default"), version
#: 3 raised the working size from 512 to 1024 px, the network staying at 512 (MODEL_CARD, "Working size 1024").
SETTINGS_VERSION = 3
_OLD_DEFAULTS = {2: {"zoom_in": False}, 3: {"max_size": 512}}


def _superseded(store: QSettings) -> set[str]:
    """Names whose stored value is a default that a later settings version changed."""
    try:
        version = int(store.value("settings/version", 1))
    except (TypeError, ValueError):
        version = 1
    out = set()
    for v, olds in _OLD_DEFAULTS.items():
        if version < v:
            for name, old in olds.items():
                try:
                    if store.contains(f"settings/{name}") and _coerce(store.value(f"settings/{name}"), old) == old:
                        out.add(name)
                except (TypeError, ValueError):
                    pass
    return out


def load_settings(store: QSettings, defaults: Settings | None = None) -> Settings:
    """Settings from `store`, falling back to the defaults value by value (and for a value whose default has
    changed since the store was written, see `SETTINGS_VERSION`)."""
    base = defaults or default_settings()
    changes = {}
    superseded = _superseded(store)
    for f in fields(Settings):
        if store.contains(f"settings/{f.name}") and f.name not in superseded:
            try:
                changes[f.name] = _coerce(store.value(f"settings/{f.name}"), getattr(base, f.name))
            except (TypeError, ValueError):
                pass
    return _clamped(replace(base, **changes))


def save_settings(store: QSettings, settings: Settings) -> None:
    """Persist `settings` in `store`."""
    for k, v in asdict(settings).items():
        store.setValue(f"settings/{k}", v)
    store.setValue("settings/version", SETTINGS_VERSION)
    store.sync()
