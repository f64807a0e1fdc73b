"""Simulated clicks: margins, spacing, inside/outside, other objects only, void never clicked, seeding."""
import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from training.sampling import (ObjectSampler, SamplingConfig, farthest_points, pick_spaced, sample_pair,
                               sample_pairs)

CFG = SamplingConfig()


def scene(h=120, w=160):
    """Object 1 (ellipse), two other objects, and a void ring around object 1."""
    labels = np.zeros((h, w), np.int32)
    cv2.ellipse(labels, (70, 60), (30, 22), 0, 0, 360, 1, -1)
    cv2.rectangle(labels, (120, 10), (150, 40), 2, -1)
    cv2.circle(labels, (130, 95), 14, 3, -1)
    obj = labels == 1
    ring = (cv2.dilate(obj.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~obj
    void = ring.copy()
    void[50:70, 20:30] = True  # a void patch inside the band as well
    others = np.where(obj, 0, labels)
    return obj, others, void


def inside_dist(mask):
    return ndimage.distance_transform_edt(mask)


def outside_dist(mask):
    return ndimage.distance_transform_edt(~mask)


def pairwise_min(xy):
    if len(xy) < 2:
        return np.inf
    d = np.sqrt(((xy[:, None, :].astype(float) - xy[None, :, :]) ** 2).sum(-1))
    return d[np.triu_indices(len(xy), 1)].min()


def test_positive_clicks_inside_with_margin_and_step():
    obj, others, void = scene()
    rng = np.random.default_rng(0)
    din = inside_dist(obj)
    counts = set()
    for _ in range(40):
        pos, _ = sample_pair(obj, others, void, 1, rng, CFG)
        counts.add(len(pos))
        assert 1 <= len(pos) <= CFG.n_pos
        assert obj[pos[:, 1], pos[:, 0]].all()
        assert not void[pos[:, 1], pos[:, 0]].any()
        assert (din[pos[:, 1], pos[:, 0]] >= CFG.d_margin - 1e-6).all()
        assert pairwise_min(pos) >= CFG.d_step - 1e-6
    assert len(counts) > 2  # the count is random in 1..n_pos


def test_strategy1_in_band_outside_object():
    obj, others, void = scene()
    rng = np.random.default_rng(1)
    dout = outside_dist(obj)
    for _ in range(30):
        _, neg = sample_pair(obj, others, void, 1, rng, CFG)
        assert 1 <= len(neg) <= CFG.n_neg1
        d = dout[neg[:, 1], neg[:, 0]]
        assert (d >= CFG.d_margin - 1e-6).all() and (d <= CFG.band + 1e-6).all()
        assert not obj[neg[:, 1], neg[:, 0]].any()
        assert not void[neg[:, 1], neg[:, 0]].any()
        assert pairwise_min(neg) >= CFG.d_step - 1e-6


def test_strategy2_only_on_other_objects_up_to_n_each():
    obj, others, void = scene()
    rng = np.random.default_rng(2)
    for _ in range(30):
        _, neg = sample_pair(obj, others, void, 2, rng, CFG)
        lab = others[neg[:, 1], neg[:, 0]]
        assert (lab > 0).all(), "strategy 2 clicked outside the other objects"
        assert not void[neg[:, 1], neg[:, 0]].any()
        for k in (2, 3):
            assert 1 <= (lab == k).sum() <= CFG.n_neg2_per_object


def test_strategy2_bool_mask_is_split_into_components():
    obj, others, void = scene()
    rng = np.random.default_rng(3)
    _, neg = sample_pair(obj, others > 0, void, 2, rng, CFG)
    lab = others[neg[:, 1], neg[:, 0]]
    assert {2, 3} <= set(lab.tolist())


def test_strategy2_without_other_objects_falls_back_to_band():
    obj, _, void = scene()
    rng = np.random.default_rng(4)
    _, neg = sample_pair(obj, None, void, 2, rng, CFG)
    assert len(neg) >= 1
    d = outside_dist(obj)[neg[:, 1], neg[:, 0]]
    assert (d <= CFG.band + 1e-6).all()
    _, neg = sample_pair(obj, None, void, 2, rng, SamplingConfig(strategy2_fallback=False))
    assert len(neg) == 0


def test_strategy3_farthest_points_cover_the_band():
    obj, others, void = scene()
    rng = np.random.default_rng(5)
    _, neg = sample_pair(obj, others, void, 3, rng, CFG)
    assert len(neg) == CFG.n_neg3
    d = outside_dist(obj)[neg[:, 1], neg[:, 0]]
    assert (d >= CFG.d_margin - 1e-6).all() and (d <= CFG.band + 1e-6).all()
    assert not void[neg[:, 1], neg[:, 0]].any()
    # Spread: greedy farthest points are much farther apart than the minimum step.
    assert pairwise_min(neg) > 2 * CFG.d_step


def test_farthest_points_greedy_order():
    cand = np.array([[0, 0], [1, 0], [10, 0], [5, 0]])
    rng = np.random.default_rng(0)
    pts = farthest_points(cand, 3, rng)
    first = pts[0]
    far = cand[np.argmax(np.abs(cand[:, 0] - first[0]))]
    np.testing.assert_array_equal(pts[1], far)
    assert len({tuple(p) for p in pts}) == 3


def test_pick_spaced_exhausts_small_regions():
    cand = np.stack(np.meshgrid(np.arange(25), np.arange(5)), -1).reshape(-1, 2)
    pts = pick_spaced(cand, 50, 10, np.random.default_rng(0))
    assert 1 <= len(pts) <= 6 and pairwise_min(pts) >= 10


def test_seeded_reproducibility_and_variation():
    obj, others, void = scene()
    a = sample_pairs(obj, others, void, 6, np.random.default_rng(7), CFG)
    b = sample_pairs(obj, others, void, 6, np.random.default_rng(7), CFG)
    c = sample_pairs(obj, others, void, 6, np.random.default_rng(8), CFG)
    assert [s for *_, s in a] == [1, 2, 3, 1, 2, 3]
    for (p1, n1, _), (p2, n2, _) in zip(a, b):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(n1, n2)
    assert any(not np.array_equal(p1, p3) for (p1, _, _), (p3, _, _) in zip(a, c))


def test_no_positive_when_object_too_thin():
    obj = np.zeros((60, 200), bool)
    obj[25:33, 10:190] = True  # 8 px thick: no pixel is 5 px from the boundary
    assert obj.sum() >= 400
    assert not ObjectSampler(obj, cfg=CFG).can_sample
    assert sample_pairs(obj, None, None, 3, np.random.default_rng(0), CFG) == []


def test_config_validation():
    with pytest.raises(ValueError):
        SamplingConfig(n_pos=0)
    with pytest.raises(ValueError):
        SamplingConfig(d_step=-1)
    assert SamplingConfig().to_dict()["band"] == 40


masks = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 4), st.integers(1, 3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masks)
def test_property_random_masks(params):
    """On random blob scenes every click obeys its strategy's rules and never lands on void."""
    seed, n_blobs, strategy = params
    rng = np.random.default_rng(seed)
    h, w = 64, 80
    labels = np.zeros((h, w), np.int32)
    for k in range(1, n_blobs + 1):
        cx, cy = rng.integers(0, w), rng.integers(0, h)
        cv2.ellipse(labels, (int(cx), int(cy)), (int(rng.integers(4, 25)), int(rng.integers(4, 25))),
                    float(rng.uniform(0, 180)), 0, 360, k, -1)
    void = rng.random((h, w)) < 0.1
    obj = labels == 1
    others = np.where(obj, 0, labels)
    pos, neg = sample_pair(obj, others, void, strategy, rng, CFG)
    sampler = ObjectSampler(obj, others, void, CFG)
    if not obj.any() or not sampler.can_sample:
        assert len(pos) == 0
    else:
        assert 1 <= len(pos) <= CFG.n_pos
        assert obj[pos[:, 1], pos[:, 0]].all()
        assert (inside_dist(obj)[pos[:, 1], pos[:, 0]] >= CFG.d_margin - 1e-6).all()
        assert pairwise_min(pos) >= CFG.d_step - 1e-6
    for xy in (pos, neg):
        assert ((xy >= 0) & (xy < [w, h])).all()
        assert not void[xy[:, 1], xy[:, 0]].any()
    assert not obj[neg[:, 1], neg[:, 0]].any()
    if strategy == 2 and sampler.other_candidates:
        assert (others[neg[:, 1], neg[:, 0]] > 0).all()
    elif obj.any():
        assert (outside_dist(obj)[neg[:, 1], neg[:, 0]] <= CFG.band + 1e-6).all()
