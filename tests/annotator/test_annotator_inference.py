"""The inference thread: runs off the GUI thread, newer requests supersede stale ones."""
import threading

import numpy as np

from annotator.inference import InferenceService
from models.clicks import Click


def test_predictions_run_on_worker_thread_and_stale_requests_are_skipped(qtbot, FakePredictor):
    pred = FakePredictor(delay=0.2)
    svc = InferenceService()
    try:
        results, failures = [], []
        svc.finished.connect(results.append)
        svc.failed.connect(failures.append)
        svc.set_predictor(pred)
        svc.set_image(np.zeros((20, 30, 3), np.uint8))
        first = svc.request([Click(5, 5)])
        qtbot.waitUntil(lambda: len(pred.calls) == 1, timeout=3000)  # the first one is running
        ids = [svc.request([Click(5, 5), Click(x, 6, False)]) for x in (10, 11, 12)]
        qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
        qtbot.wait(300)
        assert [r.request_id for r in results] == [first, ids[-1]]
        assert len(pred.calls) == 2, "the superseded requests never ran"
        assert results[-1].clicks[-1] == Click(12, 6, False)
        assert results[-1].prob.shape == (20, 30) and results[-1].ms >= 150
        assert threading.get_ident() not in pred.threads
        assert not failures
    finally:
        svc.shutdown()


def test_predictor_error_is_reported_not_raised(qtbot, FakePredictor):
    svc = InferenceService()
    try:
        failures = []
        svc.failed.connect(failures.append)
        svc.set_predictor(FakePredictor())
        svc.set_image(np.zeros((10, 10, 3), np.uint8))
        rid = svc.request([Click(50, 50)])
        qtbot.waitUntil(lambda: bool(failures), timeout=3000)
        assert failures[0].request_id == rid and "outside" in failures[0].message
        ok = []
        svc.finished.connect(ok.append)
        svc.request([Click(2, 2)])
        qtbot.waitUntil(lambda: bool(ok), timeout=3000)  # the thread survived
    finally:
        svc.shutdown()


def test_refinement_follows_a_network_only_preview(qtbot, FakePredictor):
    """With refinement on, the mask shows as soon as the network is done; GrabCut's follows."""
    pred = FakePredictor()
    pred.two_stage_refine = True
    refines = []
    plain_predict = pred.predict
    pred.predict = lambda clicks, refine=False: (refines.append(refine), plain_predict(clicks, refine))[1]
    svc = InferenceService()
    try:
        results = []
        svc.finished.connect(results.append)
        svc.set_predictor(pred)
        svc.set_image(np.zeros((20, 30, 3), np.uint8))
        rid = svc.request([Click(5, 5)], refine=True)
        qtbot.waitUntil(lambda: len(results) == 2, timeout=3000)
        assert [r.refine for r in results] == [False, True] and refines == [False, True]
        assert all(r.request_id == rid for r in results)
    finally:
        svc.shutdown()


def test_state_shows_preview_but_stays_pending_until_refined():
    from annotator.state import AnnotationState
    state = AnnotationState((20, 30))
    state.refine = True
    state.add_click(Click(5, 5))
    assert state.current_mask() is None
    preview = np.zeros((20, 30), np.float32)
    preview[:, :10] = 1.0
    state.set_prediction(state.current.clicks, False, preview)
    assert state.current_mask()[:, :10].all() and state.needs_prediction()  # shown, still pending
    refined = np.zeros((20, 30), np.float32)
    refined[:, :5] = 1.0
    state.set_prediction(state.current.clicks, True, refined)
    assert state.current_mask().sum() == 20 * 5 and not state.needs_prediction()
