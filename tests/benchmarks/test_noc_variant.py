"""benchmarks.noc_variant: the measurement helper sets what it says and refuses what does not exist."""
import numpy as np
import pytest

from models.clicks import Click


def test_set_changes_grabcut_constants_and_refuses_unknown_names(monkeypatch):
    from benchmarks import noc_variant
    from models import grabcut
    monkeypatch.setattr(grabcut, "MIN_KEPT", grabcut.MIN_KEPT)
    monkeypatch.setattr(grabcut, "MAX_PIXELS", grabcut.MAX_PIXELS)
    noc_variant.set_constants("MIN_KEPT=0,MAX_PIXELS=1000")
    assert grabcut.MIN_KEPT == 0.0 and grabcut.MAX_PIXELS == 1000 and isinstance(grabcut.MAX_PIXELS, int)
    for bad in ("NOPE=1", "CROP_MARGINS=1"):
        with pytest.raises(SystemExit):
            noc_variant.set_constants(bad)


def test_set_reaches_the_refinement_the_predictor_runs(monkeypatch):
    """The constants are read when refine() runs, not frozen into its defaults: REFINE_ITERATIONS and MAX_PIXELS
    set by --set are what GrabCut gets (they were silently ignored before)."""
    import cv2

    from benchmarks import noc_variant
    from models import grabcut
    monkeypatch.setattr(grabcut, "REFINE_ITERATIONS", grabcut.REFINE_ITERATIONS)
    monkeypatch.setattr(grabcut, "MAX_PIXELS", grabcut.MAX_PIXELS)
    seen = []
    real = cv2.grabCut
    monkeypatch.setattr(cv2, "grabCut", lambda img, mask, *a: (seen.append((img.shape[:2], a[-2])), real(img, mask, *a))[1])
    rgb = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    prob = np.zeros((120, 160), np.float32)
    prob[30:90, 40:120] = 0.9
    clicks = [Click(80, 60, True)]
    grabcut.refine(rgb, prob, clicks)
    assert seen[-1][1] == grabcut.REFINE_ITERATIONS
    noc_variant.set_constants("REFINE_ITERATIONS=2,MAX_PIXELS=1000")
    grabcut.refine(rgb, prob, clicks)
    (h, w), iterations = seen[-1]
    assert iterations == 2 and h * w <= 1000


def test_clicked_only_drops_the_parts_without_a_positive_click(monkeypatch):
    from benchmarks import noc_variant
    from models.predictor import Predictor
    two = np.zeros((60, 80), np.float32)
    two[10:30, 10:30] = 0.9
    two[35:55, 50:75] = 0.8
    monkeypatch.setattr(Predictor, "_predict_work", lambda self, clicks, refine: two.copy())
    noc_variant.keep_clicked_parts()
    p = Predictor.load(None, device="cpu")
    p.set_image(np.zeros((60, 80, 3), np.uint8))
    out = p.predict([Click(20, 20, True), Click(60, 45, False)])
    assert (out[10:30, 10:30] == np.float32(0.9)).all() and out[35:55, 50:75].max() == 0.0
