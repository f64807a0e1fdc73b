"""What a retraining run has reported so far, from the JSON events of `ifcn devkit` and `ifcn train` (Qt-free).

The held-out IoU is a mean over the held-out objects; on a handful of objects its change from the
starting model is mostly chance, so the summary names the number of objects and, below
CONFIDENT_OBJECTS, says the change is no evidence of an improvement instead of showing it signed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from annotator.run_support import format_seconds

CONFIDENT_OBJECTS = 10  # fewer held-out objects: a change of the mean IoU is not reported as a gain or loss


def _n(count: Any, word: str) -> str:
    """'1 object' / '3 objects'."""
    return f"{count} {word}{'s' * (count != 1)}"


def heldout_note(objects: int | None) -> str:
    """What a held-out IoU measured on `objects` objects can tell ('' when enough)."""
    if objects is None:
        return ""
    if objects == 0:
        return "No object was held out, so nothing measured how well the model does on unseen images."
    if objects < CONFIDENT_OBJECTS:
        return (f"Only {objects} held-out object{'s' * (objects != 1)}: too few to tell an improvement from "
                f"chance (at least {CONFIDENT_OBJECTS} are needed). Annotate more images or raise the "
                "held-out share to measure the change.")
    return ""


def _fmt(v: float | None) -> str:
    return f"{v:.3f}" if v is not None else "–"


@dataclass
class TrainingProgress:
    """The events of one run folded into numbers: steps, curves, the "before" IoU and the end."""

    step: int = 0
    total_steps: int = 0
    eta_s: float | None = None
    loss_x: list[float] = field(default_factory=list)
    loss_y: list[float] = field(default_factory=list)
    val_x: list[float] = field(default_factory=list)
    val_y: list[float] = field(default_factory=list)
    baseline: float | None = None
    devkit: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] = field(default_factory=dict)
    end: dict[str, Any] = field(default_factory=dict)
    error_text: str = ""
    val_objects: int | None = None

    def feed(self, ev: dict[str, Any], phase: str) -> str | None:
        """Take one event of the child of `phase` (devkit | train); returns a line for the log, if any."""
        kind = ev.get("event")
        if kind == "devkit":
            self.devkit = ev
            self.val_objects = int(ev.get("val_objects") or 0)
            return (f"data: {_n(ev.get('train_images'), 'training image')} "
                    f"({_n(ev.get('train_objects'), 'object')}), {ev.get('val_images')} held out "
                    f"({_n(ev.get('val_objects'), 'object')})")
        if kind == "baseline" and ev.get("val_iou") is not None:
            self.baseline = float(ev["val_iou"])
            self.val_x.insert(0, 0)  # the curve starts at the starting model's IoU
            self.val_y.insert(0, self.baseline)
            return f"starting model: held-out IoU {self.baseline:.3f} on {_n(ev.get('objects'), 'object')}"
        if kind == "start" and ev.get("command") == "train":
            self.start = ev
            self.total_steps = int(ev.get("total_steps") or 0)
            self.step = int(ev.get("step") or 0)
        elif kind == "step":
            self.step = int(ev.get("step", self.step))
            self.eta_s = ev.get("eta_s")
            if ev.get("loss") is not None:
                self.loss_x.append(self.step)
                self.loss_y.append(float(ev["loss"]))
        elif kind == "val" and ev.get("val_iou") is not None:
            self.val_x.append(int(ev.get("step", self.step)))
            self.val_y.append(float(ev["val_iou"]))
            if ev.get("objects") is not None:
                self.val_objects = int(ev["objects"])
        elif kind == "checkpoint" and ev.get("kind") == "best":
            return f"saved {ev.get('kind')} checkpoint at step {ev.get('step')}: {ev.get('path')}"
        elif kind == "end" and phase == "train":
            self.end = ev
        elif kind == "error":
            self.error_text = str(ev.get("message", ""))
        return None

    def start_text(self) -> str:
        """One line on what the training child started."""
        ev = self.start
        return (f"Training {ev.get('model', {}).get('backbone', '')} on {ev.get('device')}: "
                f"{ev.get('train_samples')} objects, {ev.get('val_samples')} held out, "
                f"{self.total_steps} steps{' (resumed)' if ev.get('resumed') else ''}.")

    def summary(self, what: str, elapsed_s: float, then: str = "") -> str:
        """'Completed: 6 steps in 0:12. Held-out IoU 0.41 → 0.63 (+0.22) on 12 objects.' plus a note when
        the held-out set is too small to show a change; `then` goes before that note."""
        steps = self.end.get("steps", self.step)
        seconds = self.end.get("seconds")
        after, before, n = self.end.get("best_val_iou"), self.baseline, self.val_objects
        text = (f"{what}: {steps} steps in {format_seconds(elapsed_s if seconds is None else seconds)}. "
                f"Held-out IoU {_fmt(before)} → {_fmt(after)}")
        note = heldout_note(n)
        if before is not None and after is not None and not note:
            text += f" ({after - before:+.3f})"
        if n is not None:
            text += f" on {_n(n, 'object')}"
        return text + "." + (f" {then}" if then else "") + (f"\n{note}" if note else "")
