"""The model in the main window: setting and (re)loading the predictor, its device and options, its info,
and the inference thread's requests and results for the current object."""
from __future__ import annotations

import time
from typing import Any

from PyQt5.QtWidgets import QApplication, QWidget

from annotator.actions import spec_text
from annotator.inference import InferenceFailure, InferenceResult
from annotator.widgets import dialogs
from models.errors import IFCNError


class ModelMixin:
    """Part of MainWindow: the predictor and the predictions of the current object."""

    def set_predictor(self, predictor: Any) -> None:
        """Use `predictor` for all further clicks (current object re-predicted)."""
        self.predictor = predictor
        self.service.set_predictor(predictor)
        act = getattr(self, "actions_by_name", {}).get("learned_refiner")
        if act is not None:  # only a model that carries a learned refiner can snap with one, when snapping is on
            has = getattr(getattr(predictor, "model", None), "refiner", None) is not None
            snaps = getattr(predictor, "snap", None) is not None
            why = "" if has and snaps else " (needs Snap to Edges)" if has else " (this model has none)"
            act.setEnabled(has and snaps)  # greyed, its tick is the remembered choice: the text says why it is off
            act.setText(spec_text("learned_refiner") + why)
        if self.state is not None:
            self.state.forget_predictions()
            self._request_prediction()
        self.predictorChanged.emit(predictor)
        self.refresh()

    def load_checkpoint(self, path: str | None, device: str | None = None) -> bool:
        """Load a predictor from `path` (None = default model); on failure keep the current one."""
        try:
            from models.predictor import BRS, EdgeSnap, Predictor, ZoomIn
            p = Predictor.load(path, device=device or self.settings.device, max_size=self.settings.max_size,
                               zoom_in=ZoomIn() if self.settings.zoom_in else None,
                               brs=BRS() if self.settings.brs else None,
                               snap=EdgeSnap() if self.settings.snap else None,
                               learned=self.settings.learned_refiner,
                               refine_method=self.settings.refine_method)
        except IFCNError as e:
            dialogs.message(self, "error", "Could not load the model",
                            f"{e}\n\nThe current model stays in use.")
            return False
        except Exception as e:  # a broken file must never take the GUI down
            dialogs.message(self, "error", "Could not load the model",
                            f"{path}: {type(e).__name__}: {e}\n\nThe current model stays in use.")
            return False
        self.set_predictor(p)
        return True

    def set_device(self, device: str) -> None:
        """Reload the current model on another device (auto / cuda / cpu)."""
        ckpt = getattr(self.predictor, "checkpoint_path", None)
        if self.load_checkpoint(str(ckpt) if ckpt else None, device=device):
            self._update_settings(device=device)
        cur = self.settings.device
        for d, act in self.device_actions.items():
            act.setChecked(d == cur)

    def model_info(self) -> dict[str, Any]:
        """What the Model Info window shows."""
        p = self.predictor
        if p is None:
            return {"model": "none loaded"}
        info: dict[str, Any] = {"name": getattr(p, "name", "?"), "device": str(getattr(p, "device", "?")),
                                "checkpoint": str(getattr(p, "checkpoint_path", None) or "(built-in)"),
                                "classical": bool(getattr(p, "is_classical", False))}
        try:
            info.update(p.info())
        except Exception as e:
            info["info"] = f"unavailable ({e})"
        return info

    def _reload_with(self, **changes: Any) -> bool:
        """Apply the settings `changes` and reload the current model with them; on failure the old
        settings and model stay."""
        old = self.settings
        self._update_settings(**changes)
        ckpt = getattr(self.predictor, "checkpoint_path", None)
        if self.predictor is not None and not self.load_checkpoint(str(ckpt) if ckpt else None):
            self._update_settings(**{k: getattr(old, k) for k in changes})
            return False
        return True

    def _toggle_reload(self, action: str, setting: str, on: bool) -> None:
        """Model → Zoom In on the Object / Enforce Clicks: reload the model with the `setting` turned
        on or off (the old model and setting are kept on failure)."""
        if not self._reload_with(**{setting: bool(on)}):
            act = self.actions_by_name[action]
            act.blockSignals(True)  # show the old state without reloading again
            act.setChecked(getattr(self.settings, setting))
            act.blockSignals(False)

    def _on_refine_grabcut(self, on: bool) -> None:
        """Model → Refine with GrabCut: reload with GrabCut (on) or colour refinement (off) behind key G."""
        if not self._reload_with(refine_method="grabcut" if on else "colour"):
            act = self.actions_by_name["refine_grabcut"]
            act.blockSignals(True)
            act.setChecked(self.settings.refine_method == "grabcut")
            act.blockSignals(False)

    def _ask_max_size(self) -> None:
        text = dialogs.ask_text(self, "Maximum inference size",
                                "Longest side (pixels) of the working copy masks are made at (64–4096; "
                                "larger: finer masks on big photos, slower clicks):",
                                str(self.settings.max_size))
        if text is None:
            return
        try:
            value = int(text)
        except ValueError:
            dialogs.message(self, "warning", "Not a number", f"{text!r} is not a whole number.")
            return
        self._reload_with(max_size=value)

    def show_model_info(self) -> QWidget:
        """Open Model → Model Info (non-modal)."""
        d = dialogs.model_info_dialog(self, self.model_info())
        self._info_windows.append(d)
        d.show()
        return d

    # ---- inference ---------------------------------------------------------------------------
    def _request_prediction(self) -> None:
        if self.state is None or not self.state.needs_prediction():
            return
        if self.predictor is None:
            self.statusBar().showMessage("No model is loaded: use Model → Load Checkpoint…", 6000)
            return
        self._pending_id = self.service.request(self.state.current.clicks, self.state.refine)
        self.refresh_status()

    def _on_result(self, res: InferenceResult) -> None:
        if self.state is None or res.image_token != self.service.image_token:
            return
        try:
            self.state.set_prediction(res.clicks, res.refine, res.prob)
        except ValueError as e:
            self._on_failure(InferenceFailure(res.request_id, res.image_token, str(e)))
            return
        if res.request_id == self._pending_id and res.refine == self.state.refine:
            self._pending_id = 0  # a preview (network only, refinement still running) keeps it pending
            self.last_inference_ms = res.ms
        if self._finish_after and self.state.current_mask() is not None:
            self._finish_after = False
            self.refresh()  # show the mask the object is finished with, then finish
            self.canvas.viewport().repaint()
            self.finish_object()
        self.refresh()

    def _on_failure(self, f: InferenceFailure) -> None:
        if f.image_token != self.service.image_token or f.message == "stale image":
            return
        if f.request_id in (self._pending_id, -1):
            self._pending_id = 0
            self._finish_after = False
            dialogs.message(self, "error", "Prediction failed", f.message)
            self.refresh()

    def wait_for_inference(self, timeout_s: float = 10.0) -> bool:
        """Process events until no prediction is pending (for scripts and tests)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            QApplication.processEvents()
            if self._pending_id == 0 and self.service.is_idle():
                QApplication.processEvents()
                return True
            time.sleep(0.005)
        return False

    @property
    def inference_pending(self) -> bool:
        """True while the latest prediction has not arrived."""
        return self._pending_id != 0
