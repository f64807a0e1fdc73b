"""Model menu entries that pick a checkpoint: Load Checkpoint… (opening in the runs folder) and Use Default Model."""
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
