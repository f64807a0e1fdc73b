"""Runs the predictor on a worker thread; the GUI thread only posts requests and receives results.

The worker keeps one slot per kind of job (new predictor, new image, predict), so a newer predict request
replaces a stale one that has not started, and every result carries the id of its request: the GUI drops
results whose id is not the latest it asked for.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from PyQt5.QtCore import QObject, QThread, pyqtSignal

from models.clicks import Click
from models.errors import IFCNError


@dataclass(frozen=True)
class InferenceResult:
    """A finished prediction: which request, for which image and clicks, the map, how long it took."""

    request_id: int
    image_token: int
    clicks: tuple[Click, ...]
    refine: bool
    prob: np.ndarray
    ms: float


@dataclass(frozen=True)
class InferenceFailure:
    """A prediction that raised: the request and a message for the user."""

    request_id: int
    image_token: int
    message: str


class _Worker(QThread):
    """The thread that owns the predictor while the service lives."""

    def __init__(self, service: "InferenceService") -> None:
        super().__init__()
        self._svc = service

    def run(self) -> None:  # noqa: D401 - Qt entry point
        svc = self._svc
        predictor: Any = None
        image_token = -1
        while True:
            with svc._cond:
                while not svc._stop and svc._new_predictor is None and svc._new_image is None \
                        and svc._job is None:
                    svc._cond.wait()
                if svc._stop:
                    return
                new_pred, svc._new_predictor = svc._new_predictor, None
                new_img, svc._new_image = svc._new_image, None
                job = None
                if new_pred is None and new_img is None:
                    job, svc._job = svc._job, None
                svc._busy = True
            try:
                if new_pred is not None:
                    predictor = new_pred[0]
                    image_token = -1
                    with svc._cond:
                        if svc._image is not None and svc._new_image is None:
                            svc._new_image = svc._image
                if new_img is not None:
                    token, rgb = new_img
                    if predictor is not None:
                        try:
                            predictor.set_image(rgb)
                            image_token = token
                        except Exception as e:  # a predictor error must never kill the thread
                            svc.failed.emit(InferenceFailure(-1, token, _describe(e)))
                if job is not None:
                    rid, token, clicks, refine = job
                    if predictor is None or token != image_token:
                        svc.failed.emit(InferenceFailure(rid, token, "No model is loaded."
                                                         if predictor is None else "stale image"))
                    elif rid == svc._latest:
                        _predict(svc, predictor, rid, token, tuple(clicks), refine)
            finally:
                with svc._cond:
                    svc._busy = False
                    svc._cond.notify_all()


def _predict(svc: "InferenceService", predictor: Any, rid: int, token: int, clicks: tuple[Click, ...],
             refine: bool) -> None:
    """Run one request; with refinement, first send the network's own map as a preview.

    The preview shows the mask as soon as the network is done; GrabCut then runs unless a newer
    request has arrived meanwhile (the predictor reuses the network output it just computed).
    """
    stages = (False, True) if refine and getattr(predictor, "two_stage_refine", False) else (refine,)
    t0 = time.perf_counter()
    for stage in stages:
        if stage and len(stages) == 2:
            with svc._cond:
                if svc._job is not None or rid != svc._latest or svc._stop:
                    return  # superseded: skip the refinement of a stale request
        try:
            prob = np.asarray(predictor.predict(list(clicks), refine=stage), dtype=np.float32)
        except Exception as e:
            svc.failed.emit(InferenceFailure(rid, token, _describe(e)))
            return
        ms = (time.perf_counter() - t0) * 1000.0
        svc.finished.emit(InferenceResult(rid, token, clicks, stage, prob, ms))


def _describe(e: BaseException) -> str:
    """A message for the user; no traceback."""
    msg = str(e) or type(e).__name__
    if isinstance(e, RuntimeError) and "out of memory" in msg.lower():
        return "The device ran out of memory: lower the maximum inference size or switch to the CPU."
    if isinstance(e, (ValueError, IFCNError)):
        return msg
    return f"{type(e).__name__}: {msg}"


class InferenceService(QObject):
    """GUI-side handle of the inference thread."""

    finished = pyqtSignal(object)  # InferenceResult
    failed = pyqtSignal(object)    # InferenceFailure

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._stop = False
        self._busy = False
        self._new_predictor: tuple | None = None
        self._new_image: tuple[int, np.ndarray] | None = None
        self._image: tuple[int, np.ndarray] | None = None
        self._job: tuple | None = None
        self._latest = 0
        self._next_id = 1
        self._token = 0
        self._thread = _Worker(self)
        self._thread.start()

    @property
    def latest_id(self) -> int:
        """Id of the most recent predict request."""
        return self._latest

    @property
    def image_token(self) -> int:
        """Token of the image most recently handed to the worker."""
        return self._token

    def set_predictor(self, predictor: Any) -> None:
        """Use `predictor` for the next requests (swapped on the worker, between jobs)."""
        with self._cond:
            self._new_predictor = (predictor,)
            self._job = None
            self._cond.notify_all()

    def set_image(self, rgb: np.ndarray) -> int:
        """Hand a new image to the predictor; returns its token (results of older images are stale)."""
        with self._cond:
            self._token += 1
            self._image = (self._token, rgb)
            self._new_image = self._image
            self._job = None
            self._cond.notify_all()
            return self._token

    def request(self, clicks: Sequence[Click], refine: bool = False) -> int:
        """Ask for a prediction of the current image; supersedes any request not yet started."""
        with self._cond:
            rid = self._next_id
            self._next_id += 1
            self._latest = rid
            self._job = (rid, self._token, tuple(clicks), bool(refine))
            self._cond.notify_all()
            return rid

    def cancel(self) -> None:
        """Forget the pending request (a running one finishes but its result is stale)."""
        with self._cond:
            self._job = None
            self._latest = self._next_id
            self._next_id += 1

    def is_idle(self) -> bool:
        """True when the worker has nothing queued or running."""
        with self._cond:
            return not self._busy and self._job is None and self._new_image is None \
                and self._new_predictor is None

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Stop the worker thread (waits for a running prediction to end)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.wait(timeout_ms)
