"""Model menu entries: Load Checkpoint… (opening in the runs folder), Use Default Model, Inference Engine."""
from __future__ import annotations

from typing import Any

from annotator.data_folders import checkpoint_folder
from annotator.widgets import dialogs

CHECKPOINT_FILTER = "Checkpoints (*.pt *.pth *.ckpt);;All files (*)"


def ask_checkpoint(window: Any) -> bool:
    """Model → Load Checkpoint…: a file dialog opened in the folder's training runs (where Retrain writes)."""
    start = checkpoint_folder(getattr(window, "output_dir", None))
    f = dialogs.choose_file(window, "Load checkpoint", str(start) if start is not None else "", CHECKPOINT_FILTER)
    return bool(f) and window.load_checkpoint(f)


def use_default_model(window: Any) -> bool:
    """Model → Use Default Model: back to the shipped model (GrabCut when none is installed)."""
    if not window.load_checkpoint(None):
        return False
    p = window.predictor
    what = "GrabCut (no default model installed)" if getattr(p, "is_classical", False) else "the default model"
    window.statusBar().showMessage(f"Using {what}", 6000)
    return True


#: Model → Inference Engine entries: setting value, menu text.
ENGINE_CHOICES = (("auto", "&Automatic (fastest installed, checked against PyTorch)"), ("torch", "&PyTorch"),
                  ("onnxruntime", "&ONNX Runtime"), ("openvino", "Open&VINO"))


def apply_engine(window: Any, predictor: Any = None) -> str | None:
    """Run `predictor`'s (default: the window's) backbone through the engine of the window's settings; returns
    what runs it, or None for a predictor without engines (GrabCut, a test's fake network)."""
    p = predictor if predictor is not None else getattr(window, "predictor", None)
    if p is None or getattr(p, "is_classical", True) or not hasattr(p, "set_engine"):
        return None
    try:
        p.set_engine(window.settings.engine)
    except ValueError:  # a named engine whose package went missing: PyTorch, as "auto" would
        p.set_engine("torch")
    return p.info().get("engine", "torch")


def choose_engine(window: Any, name: str) -> None:
    """Model → Inference Engine → `name`: remember it and use it from the next click on."""
    window._update_settings(engine=name)
    for n, act in window.engine_actions.items():
        act.setChecked(n == window.settings.engine)
    runs = apply_engine(window)
    if runs is not None:
        window.statusBar().showMessage(f"Inference engine: {runs}", 6000)


def install_engine_menu(window: Any) -> None:
    """Add Model → Inference Engine to `window` (engines not installed are greyed out) and apply the setting
    to every predictor the window loads, from now on and to the current one."""
    from PyQt5.QtWidgets import QAction, QActionGroup

    from models.engines import PACKAGES, available

    menu = window.model_menu.addMenu("Inference &Engine")
    menu.setObjectName("EngineMenu")
    menu.setToolTipsVisible(True)
    group = QActionGroup(menu)
    window.engine_actions = {}
    for name, text in ENGINE_CHOICES:
        act = QAction(text, menu, checkable=True)
        act.setChecked(name == window.settings.engine)
        if name in PACKAGES and not available(name):
            act.setEnabled(False)
            act.setToolTip(f"not installed (pip install {' '.join(PACKAGES[name])})")
        act.triggered.connect(lambda _=False, n=name: choose_engine(window, n))
        group.addAction(act)
        menu.addAction(act)
        window.engine_actions[name] = act
    window.predictorChanged.connect(lambda p: apply_engine(window, p))
    apply_engine(window)
