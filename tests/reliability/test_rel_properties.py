"""Property tests (hypothesis): click encoding, the NoC oracle, the sampler on degenerate masks, the VOC writer."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject, ClassDef, ClassTable, compose
from models.clicks import Click, distance_map, distance_maps
from models.fileio import read_index_png
from models.metrics import next_click

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
points = st.lists(st.tuples(st.integers(-5, 40), st.integers(-5, 30)), max_size=12)


@FAST
@given(points, points, st.sampled_from([255.0, 20.0, 3.0]))
def test_distance_map_monotone_capped_order_free(figures, a, b, clamp):
    h, w = 26, 36
    da, dab = distance_map(a, h, w, clamp), distance_map(a + b, h, w, clamp)
    assert dab.dtype == np.float32 and dab.shape == (h, w)
    # (cv2's exact transform can differ by one float32 ulp between calls: compare with a tolerance)
    assert (dab <= da + 1e-4).all(), "adding clicks never moves a pixel farther from the clicks"
    assert ((0 <= dab) & (dab <= clamp)).all()
    inside = {(x, y) for x, y in a + b if 0 <= x < w and 0 <= y < h}
    zeros = {(int(x), int(y)) for y, x in zip(*np.nonzero(dab == 0))}
    assert zeros == inside, "0 exactly at the clicked pixels (outside points ignored)"
    assert (dab[dab > 0] >= 1 - 1e-4).all()
    assert np.allclose(dab, distance_map(list(reversed(b + a)), h, w, clamp), rtol=0, atol=1e-4)
    clicks = [Click(x, y, i % 2 == 0) for i, (x, y) in enumerate(a + b)]
    maps = distance_maps(clicks, h, w, clamp)
    assert np.allclose(maps[0], distance_map([(c.x, c.y) for c in clicks if c.positive], h, w, clamp),
                       rtol=0, atol=1e-4)
    figures["inputs"] += 1


def _padded_edt(mask):
    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


masks = st.tuples(st.integers(0, 2 ** 32 - 1), st.floats(0.1, 0.9), st.floats(0.0, 0.3), st.integers(0, 6))


@FAST
@given(masks)
def test_noc_oracle_clicks_the_deepest_error_pixel(figures, params):
    seed, density, void_frac, n_clicked = params
    rng = np.random.default_rng(seed)
    h, w = 24, 30
    gt = ndimage.binary_opening(rng.random((h, w)) < density) | (rng.random((h, w)) < 0.05)
    pred = ndimage.binary_dilation(gt) if rng.random() < 0.5 else rng.random((h, w)) < density
    void = rng.random((h, w)) < void_frac
    err = (gt ^ pred) & ~void
    ys, xs = np.nonzero(err)
    pick = rng.permutation(len(xs))[:n_clicked]
    clicked = [Click(float(xs[i]), float(ys[i]), True) for i in pick]
    c = next_click(pred, gt, ignore=void, clicked=clicked)
    fn, fp = gt & ~pred & ~void, pred & ~gt & ~void
    dt = np.maximum(_padded_edt(fn), _padded_edt(fp))
    for k in clicked:
        dt[int(k.y), int(k.x)] = 0
    if c is None:
        assert dt.max() == 0, "None only when every error pixel is void or already clicked"
    else:
        x, y = int(c.x), int(c.y)
        assert err[y, x] and not void[y, x], "the click lies in the error region, never on void"
        assert (x, y) not in {(int(k.x), int(k.y)) for k in clicked}
        assert c.positive == bool(fn[y, x]), "positive in the missed object, negative in the false positives"
        assert np.isclose(dt[y, x], dt.max(), atol=1e-4), "farthest from the error region's boundary"
    figures["inputs"] += 1


@FAST
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(["noise", "full", "pixel", "void"]), st.integers(1, 3))
def test_sampler_on_degenerate_masks(figures, seed, kind, strategy):
    from training.sampling import SamplingConfig, sample_pair

    rng = np.random.default_rng(seed)
    h, w = 48, 60
    if kind == "noise":
        obj = rng.random((h, w)) < 0.5
    elif kind == "full":
        obj = np.ones((h, w), bool)
    elif kind == "pixel":
        obj = np.zeros((h, w), bool)
        obj[rng.integers(h), rng.integers(w)] = True
    else:
        obj = ndimage.binary_dilation(np.pad(np.ones((10, 10), bool), ((10, h - 20), (20, w - 30))), iterations=2)
    void = rng.random((h, w)) < (0.9 if kind == "void" else 0.1)
    others = np.where(~obj & (rng.random((h, w)) < 0.3), 2, 0)
    pos, neg = sample_pair(obj, others, void, strategy, rng, SamplingConfig())
    for xy in (pos, neg):
        assert xy.ndim == 2 and xy.shape[1] == 2
        assert ((xy >= 0) & (xy < [w, h])).all()
        assert not void[xy[:, 1], xy[:, 0]].any()
    assert obj[pos[:, 1], pos[:, 0]].all() and not obj[neg[:, 1], neg[:, 0]].any()
    figures["inputs"] += 1


objects = st.lists(st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(1, 254),
                             st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))),
                   min_size=1, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(objects, st.sampled_from([(1, 1), (7, 3), (33, 50)]))
def test_voc_writer_round_trip_through_label_file(tmp_path_factory, figures, objs, shape):
    out = tmp_path_factory.mktemp("voc")
    h, w = shape
    table = ClassTable()
    made = []
    for seed, cls, color in objs:
        m = np.random.default_rng(seed).random(shape) < 0.4
        m.flat[seed % m.size] = True  # never empty
        table.merge([ClassDef(cls, f"c{cls}", color)])
        made.append(AnnotObject(uid=0, class_index=cls, clicks=(Click(seed % w, seed % h, True),), mask=m))
    st_ = AnnotationState(shape, table)
    st_.load_objects(made)
    paths = label_file.save(out, out / "x.jpg", st_)
    loaded = label_file.load(out, out / "x.jpg", shape)
    assert not loaded.needs_resave
    assert [o.class_index for o in loaded.objects] == [o.class_index for o in made]
    assert all(np.array_equal(a.mask, b.mask) and a.clicks == b.clicks for a, b in zip(loaded.objects, made))
    cls_map, inst_map = compose(made, shape)
    assert np.array_equal(read_index_png(paths.class_png), cls_map)
    assert np.array_equal(read_index_png(paths.object_png), inst_map)
    from PIL import Image

    with Image.open(paths.class_png) as im:
        pal = np.asarray(im.getpalette(), np.uint8).reshape(-1, 3)
    colors = {c.index: c.color for c in loaded.classes}
    for c in {o.class_index for o in made}:
        assert tuple(pal[c]) == tuple(table.get(c).color) == tuple(colors[c])
    figures["inputs"] += 1
