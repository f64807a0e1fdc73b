"""The machine-readable progress stream of `ifcn train` and `ifcn noc` (read by the GUI).

Format: with `--progress-json`, stdout carries nothing but this stream: one JSON object per line
(UTF-8, no NaN/Infinity: non-finite numbers become null), flushed after every line. Every object has
an ``"event"`` key and a ``"time"`` key (Unix seconds, float). Human output (tqdm bar, logs) goes to
stderr. Readers must ignore keys and events they do not know.

Events of ``ifcn train``:

- ``start``: ``command`` ("train"), ``run_dir``, ``device``, ``world_size``, ``model`` (spec dict),
  ``train_samples``, ``val_samples``, ``steps_per_epoch``, ``total_steps``, ``epochs``, ``step``
  (the step it starts from; > 0 when resuming), ``resumed`` (bool).
- ``step``: ``step`` (1-based count of optimiser steps done), ``epoch`` (0-based), ``loss``, ``lr``,
  ``images_per_s``, ``eta_s`` (seconds left, estimated).
- ``val``: ``step``, ``epoch``, ``val_iou`` (mean IoU over validation objects, 0..1), ``objects``.
- ``epoch``: end of an epoch: ``epoch``, ``step``, ``train_loss`` (epoch mean), ``val_iou`` (or null).
- ``checkpoint``: ``path``, ``kind`` ("last", "best", or "snapshot" with `--snapshots`), ``step``.
- ``end``: ``status`` ("completed", "stopped" or "failed"), ``best_val_iou`` (or null), ``steps``,
  ``seconds``.
- ``error``: ``message`` (a person-readable reason; an ``end`` with status "failed" follows).

Events of ``ifcn noc``:

- ``data``: ``text`` (the data source and the layout detected, as the ``data:`` line says it), ``split``,
  ``images``; first, once (with ``--check-data`` the only event).
- ``start``: ``command`` ("noc"), ``model``, ``refine``, ``images``, ``max_clicks``, ``targets``.
- ``object``: ``index`` (0-based), ``image``, ``object`` (instance id), ``ious`` (IoU after each
  click), ``noc@85``, ``noc@90``.
- ``skipped``: ``image``, ``message`` (an unreadable image or mask, counted, not fatal).
- ``end``: ``status``, ``seconds``, ``objects``, ``noc@85``, ``noc@90``, ``failed@85``,
  ``failed@90``, ``miou_per_click``.
- ``error``: ``message``.

With ``--compare`` the stream holds one ``start`` … ``end`` sequence per compared run, in order.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import IO, Any

from models.progress_line import parse_line  # noqa: F401  (the stream's reader, re-exported)


def _plain(value: Any) -> Any:
    """Convert numpy/torch scalars and containers to JSON-safe Python values (NaN/inf -> None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (int, bool, str)):
        return value
    return str(value)


def format_event(event: str, **fields: Any) -> str:
    """One progress line (without the newline) for `event` with `fields`."""
    obj = {"event": event, "time": round(time.time(), 3)}
    obj.update(_plain(fields))
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))




class ProgressWriter:
    """Writes progress events as JSON lines when enabled; a no-op otherwise."""

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None) -> None:
        self.enabled = enabled
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event line (and flush) if enabled."""
        if not self.enabled:
            return
        line = format_event(event, **fields)
        stream = self.stream if self.stream is not None else sys.stdout
        try:
            stream.write(line + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):  # reader went away: keep working, stop streaming
            self.enabled = False


class NullProgress(ProgressWriter):
    """A writer that writes nothing (ranks other than 0, library use)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
