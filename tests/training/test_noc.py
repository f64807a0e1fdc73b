"""NoC benchmark: protocol on fake predictors, outputs, skipped images, progress events."""
from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest

from models.errors import ImageReadError
from models.metrics import interior_point
from training.noc import evaluate, format_table, write_outputs
from training.progress import ProgressWriter, parse_line
from training.voc import VOCSample

H, W = 48, 64


def _objects(seed: int) -> np.ndarray:
    """Instance mask with two rectangles and a void band around the first."""
    obj = np.zeros((H, W), np.uint8)
    o = seed % 5
    obj[8 + o:30 + o, 6:28] = 1
    obj[6:20, 36 + o:60] = 2
    ring = np.zeros_like(obj)
    ring[7 + o:31 + o, 5:29] = 1
    obj[(ring == 1) & (obj == 0)] = 255
    return obj


class FakeData:
    """Dataset with the VOCDevkit interface; ids listed in `bad` raise ImageReadError."""

    def __init__(self, n: int, bad: tuple[str, ...] = ()) -> None:
        self.ids = [f"im{i}" for i in range(n)]
        self.bad = set(bad)

    def image_ids(self, split: str) -> list[str]:
        return list(self.ids)

    def load(self, image_id: str) -> VOCSample:
        if image_id in self.bad:
            raise ImageReadError(f"/data/{image_id}.jpg: not a readable image")
        i = self.ids.index(image_id)
        rgb = np.full((H, W, 3), i, np.uint8)  # the image index is readable from the pixels
        return VOCSample(image_id, rgb, _objects(i))


class OraclePredictor:
    """Knows the masks; returns the clicked object, but only from click `k` on (empty before)."""

    name = "oracle"

    def __init__(self, data: FakeData, k: int = 1, leak_void: bool = False) -> None:
        self.data, self.k, self.leak_void = data, k, leak_void
        self.calls: list[list] = []

    def set_image(self, rgb: np.ndarray) -> None:
        self.objects = _objects(int(rgb[0, 0, 0]))

    def predict(self, clicks, refine: bool = False) -> np.ndarray:
        clicks = list(clicks)
        self.calls.append(clicks)
        if len(clicks) < self.k:
            return np.zeros((H, W), np.float32)
        first = clicks[0]
        obj = self.objects == self.objects[int(first.y), int(first.x)]
        if self.leak_void:
            obj |= self.objects == 255
        return obj.astype(np.float32)


class EmptyPredictor:
    name = "empty"

    def set_image(self, rgb: np.ndarray) -> None:
        self.shape = rgb.shape[:2]

    def predict(self, clicks, refine: bool = False) -> np.ndarray:
        return np.zeros(self.shape, np.float32)


def test_perfect_predictor_needs_one_click_and_first_click_is_interior_point():
    data = FakeData(3)
    pred = OraclePredictor(data)
    res = evaluate(pred, data)
    assert len(res.objects) == 6
    assert res.noc(0.85) == 1.0 and res.noc(0.90) == 1.0
    assert res.failed(0.85) == 0 and res.failed(0.90) == 0
    assert res.miou_per_click() == [1.0] * 20
    # the first click of every object is the protocol's interior point, positive
    first_clicks = [c[0] for c in pred.calls]
    expected = []
    for i in range(3):
        objs = _objects(i)
        for oid in (1, 2):
            expected.append(interior_point(objs == oid))
    assert [(int(c.x), int(c.y)) for c in first_clicks] == expected
    assert all(c.positive for c in first_clicks)


def test_empty_predictor_counts_max_clicks_and_fails():
    data = FakeData(2)
    res = evaluate(EmptyPredictor(), data, max_clicks=20)
    assert res.noc(0.85) == 20.0 and res.noc(0.90) == 20.0
    assert res.failed(0.85) == 4 and res.failed(0.90) == 4
    assert all(len(o.ious) == 20 for o in res.objects)  # ran all clicks, oracle kept clicking
    assert res.miou_per_click() == [0.0] * 20
    # clicks after the first come from the oracle: all positive (only false negatives exist), distinct
    clicks = res.objects[0].clicks
    assert all(c.positive for c in clicks)
    assert len({(c.x, c.y) for c in clicks}) == len(clicks)


def test_noc_counts_the_click_that_reaches_the_target():
    data = FakeData(2)
    res = evaluate(OraclePredictor(data, k=3), data)
    assert res.noc(0.85) == 3.0 and res.noc(0.90) == 3.0
    curve = res.miou_per_click()
    assert curve[:2] == [0.0, 0.0] and curve[2:] == [1.0] * 18
    assert res.summary()["split"] == "val"  # the split it ran on, recorded for `ifcn compare`


def test_void_pixels_are_ignored_in_iou():
    data = FakeData(1)
    res = evaluate(OraclePredictor(data, leak_void=True), data)
    assert res.objects[0].ious[0] == 1.0  # predicting void as object costs nothing


def test_bad_images_are_skipped_and_counted_and_limit_caps_objects():
    data = FakeData(4, bad=("im1",))
    res = evaluate(OraclePredictor(data), data)
    assert res.images == 3 and len(res.objects) == 6
    assert res.skipped == [("im1", "/data/im1.jpg: not a readable image")]
    limited = evaluate(OraclePredictor(data), data, limit=3)
    assert len(limited.objects) == 3


def test_min_area_leaves_small_objects_out_before_the_limit_counts():
    """Object 1 of every image is 22 x 22 = 484 px, object 2 at most 14 x 24 = 336 px."""
    data = FakeData(3)
    pred = OraclePredictor(data)
    res = evaluate(pred, data, min_area=400)
    assert [(o.image_id, o.object_id) for o in res.objects] == [("im0", 1), ("im1", 1), ("im2", 1)]
    assert all(o.area >= 400 for o in res.objects) and len(pred.calls) == 3  # the small ones never predicted
    assert res.summary()["min_area"] == 400
    limited = evaluate(OraclePredictor(data), data, min_area=400, limit=2)
    assert [(o.image_id, o.object_id) for o in limited.objects] == [("im0", 1), ("im1", 1)]
    every = evaluate(OraclePredictor(data), data)
    assert len(every.objects) == 6 and "min_area" not in every.summary()
    assert {(o.image_id, o.object_id) for o in every.objects if o.area < 400} == {(f"im{i}", 2) for i in range(3)}


def test_outputs_summary_csv_plot(tmp_path):
    data = FakeData(2, bad=("im0",))
    res = evaluate(OraclePredictor(data, k=2), data)
    paths = write_outputs(tmp_path, res, compare=[evaluate(EmptyPredictor(), data)])
    summary = json.loads(paths["summary"].read_text())
    for key in ("noc@85", "noc@90", "failed@85", "failed@90", "miou_per_click", "objects", "model",
                "refine", "seconds", "clicks_per_s", "skipped_images"):
        assert key in summary
    assert summary["noc@85"] == 2.0 and summary["objects"] == 2 and summary["skipped_images"] == 1
    assert len(summary["miou_per_click"]) == 20
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert len(rows) == 2 and rows[0]["noc@90"] == "2" and rows[0]["iou_2"] == "1.00000"
    img = cv2.imread(str(paths["plot"]))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 10  # something was drawn
    table = format_table([res])
    assert "NoC@85" in table and "oracle" in table


def test_progress_stream_has_object_events():
    data = FakeData(2)
    buf = io.StringIO()
    evaluate(OraclePredictor(data, k=2), data, progress=ProgressWriter(True, buf))
    events = [parse_line(line) for line in buf.getvalue().splitlines()]
    assert all(e is not None for e in events)
    assert events[0]["event"] == "start"
    objs = [e for e in events if e["event"] == "object"]
    assert len(objs) == 4 and objs[0]["ious"] == [0.0, 1.0] and objs[0]["noc@85"] == 2


def test_max_clicks_must_be_positive():
    with pytest.raises(Exception, match="max-clicks"):
        evaluate(EmptyPredictor(), FakeData(1), max_clicks=0)


class DiscPredictor:
    """Selects a small disc around each positive click and nothing else: every click is honoured, no
    object is ever selected (the 'respected by a disc, intent missed' behaviour)."""
    name = "disc"

    def set_image(self, rgb: np.ndarray) -> None:
        self.shape = rgb.shape[:2]

    def predict(self, clicks, refine: bool = False) -> np.ndarray:
        yy, xx = np.mgrid[:self.shape[0], :self.shape[1]]
        out = np.zeros(self.shape, np.float32)
        for c in clicks:
            if c.positive:
                out[(yy - c.y) ** 2 + (xx - c.x) ** 2 <= 2] = 1.0
        return out


def test_corrections_count_clicks_that_miss_the_users_intent():
    """The summary says how corrective clicks changed the error region they were put in: a predictor that
    only paints a disc at each click leaves big regions almost all wrong (intent missed); the perfect one has
    nothing to correct after its first click."""
    data = FakeData(2)
    res = evaluate(DiscPredictor(), data, max_clicks=4)
    assert res.summary()["corrections"] == res.corrections()  # big = 500 px by default: none this small
    c = res.corrections(big=200)
    big = sum(1 for o in res.objects for a, _ in o.fixed if a >= 200)
    assert c["clicks"] == 3 * len(res.objects) and c["median_fixed"] < 0.1
    assert big > 0 and c["intent_missed"] == c["regions_over_200px"] == big
    perfect = evaluate(OraclePredictor(data), data).summary()["corrections"]
    assert perfect == {"clicks": 0, "median_fixed": None, "regions_over_500px": 0, "intent_missed": 0}


def test_setbacks_count_clicks_that_made_the_mask_worse():
    """A click after which the IoU fell by more than 0.1 is a setback; the objects with one are counted."""
    from training.noc import NocResult, ObjectResult

    def obj(ious):
        return ObjectResult("a", 0, 10, ious, [], {0.9: 20}, {0.9: True})

    res = NocResult("m", True, 20, (0.9,), objects=[obj([0.5, 0.8, 0.3, 0.9, 0.85]), obj([0.2, 0.5, 0.7]),
                                                     obj([0.9, 0.5, 0.2])])
    assert res.setbacks() == {"drop": 0.1, "clicks": 3, "objects": 2}  # 0.8 -> 0.3; 0.9 -> 0.5 -> 0.2
    assert res.setbacks(drop=0.35) == {"drop": 0.35, "clicks": 2, "objects": 2}
    assert res.summary()["setbacks"] == res.setbacks()
    assert evaluate(OraclePredictor(FakeData(2)), FakeData(2)).setbacks()["clicks"] == 0


def test_a_refined_run_is_labelled_by_its_refinement():
    """Tables, legends and output folders name the refinement that ran: the predictor's `refine_method`."""
    from training.noc import NocResult

    assert NocResult("m", True, 20, (0.9,)).label == "m + colour refinement"
    graph = NocResult("m", True, 20, (0.9,), refine_method="grabcut")
    assert graph.label == "m + GrabCut" and graph.summary()["refine_method"] == "grabcut"
    assert NocResult("m", False, 20, (0.9,), refine_method="grabcut").summary()["refine_method"] is None

    class Graph(OraclePredictor):
        refine_method = "grabcut"

    assert evaluate(Graph(FakeData(1)), FakeData(1), refine=True).label.endswith("+ GrabCut")
    assert evaluate(OraclePredictor(FakeData(1)), FakeData(1), refine=True).refine_method == "colour"


def test_noc_measures_with_the_photo_resolution_snap_unless_told_not_to(tmp_path):
    """`ifcn noc --no-full-res` turns off the snap at the photo's resolution (on by default, as the annotator runs);
    the predictor's info says which ran."""
    import argparse

    from models.checkpoint import save_checkpoint
    from tests.models.helpers import random_model
    from training.noc import add_arguments, load_predictor

    ap = argparse.ArgumentParser()
    add_arguments(ap)
    assert ap.parse_args(["--out", "o"]).full_res is True
    assert ap.parse_args(["--out", "o", "--no-full-res"]).full_res is False
    path = tmp_path / "r18.pt"
    save_checkpoint(path, random_model())
    assert load_predictor(str(path), device="cpu").info()["full_res"] is True
    assert load_predictor(str(path), device="cpu", full_res=False).info()["full_res"] is False
    assert load_predictor(str(path), device="cpu", snap=False).info()["full_res"] is False
    assert load_predictor("grabcut").info()["full_res"] is False
