"""The Qt-free annotation state: clicks, undo/redo, dirty flag, finishing, classes, composition."""
import numpy as np
import pytest

from annotator.state import (AnnotationState, AnnotObject, ClassTable, Stroke, apply_strokes, compose,
                             VOC_CLASSES)
from models.clicks import Click
from models.fileio import voc_colormap


def disc(shape, x, y, r):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return ((xx - x) ** 2 + (yy - y) ** 2 <= r * r).astype(np.float32)


def predict_all(st):
    """Play the predictor: a disc per positive click."""
    prob = np.zeros(st.shape, np.float32)
    for c in st.current.clicks:
        if c.positive:
            prob = np.maximum(prob, disc(st.shape, c.x, c.y, 5))
    st.set_prediction(st.current.clicks, st.refine, prob)


def test_clicks_undo_redo_and_dirty_on_every_edit():
    st = AnnotationState((40, 50))
    assert not st.dirty and not st.can_undo
    st.add_click(Click(10, 10, True))
    st.add_click(Click(30, 20, False))
    assert [c.positive for c in st.current.clicks] == [True, False]
    st.mark_saved()
    assert st.undo() and st.dirty, "undo must mark the state dirty"
    assert st.current.clicks == (Click(10, 10, True),)
    st.mark_saved()
    assert st.redo() and st.dirty, "redo must mark the state dirty"
    assert len(st.current.clicks) == 2
    st.undo()
    st.add_click(Click(5, 5, True))
    assert not st.can_redo, "a new edit clears the redo stack"
    assert not st.redo()


def test_click_outside_image_is_refused_and_clicks_snap_to_pixels():
    st = AnnotationState((40, 50))
    with pytest.raises(ValueError, match="outside"):
        st.add_click(Click(50, 3, True))
    with pytest.raises(ValueError):
        st.add_click(Click(-1, 3, True))
    assert not st.dirty and not st.can_undo
    st.add_click(Click(3.4, 7.6, True))
    assert st.current.clicks[0] == Click(3, 8, True)


def test_finish_object_freezes_mask_and_starts_new_object():
    st = AnnotationState((40, 50))
    st.add_click(Click(20, 20, True))
    assert st.needs_prediction() and st.current_mask() is None
    assert st.finish_object() is None, "no mask yet: nothing to finish"
    predict_all(st)
    assert not st.needs_prediction()
    done = st.finish_object()
    assert done is not None and done.mask[20, 20] and done.mask.sum() == disc((40, 50), 20, 20, 5).sum()
    assert st.objects == (done,) and st.current.is_empty and st.current.uid != done.uid
    st.mark_saved()
    st.undo()
    assert st.dirty and st.objects == () and st.current.clicks == (Click(20, 20, True),)


def test_threshold_changes_current_mask():
    st = AnnotationState((10, 10))
    st.add_click(Click(5, 5, True))
    prob = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    st.set_prediction(st.current.clicks, False, prob)
    st.threshold = 0.5
    n50 = st.current_mask().sum()
    st.threshold = 0.8
    assert st.current_mask().sum() < n50 == (prob >= 0.5).sum()


def test_brush_strokes_survive_the_next_click():
    st = AnnotationState((40, 60))
    st.add_click(Click(10, 10, True))
    predict_all(st)
    st.add_stroke(Stroke(((40.0, 30.0), (50.0, 30.0)), 2.0, erase=False))
    st.add_stroke(Stroke(((10.0, 10.0),), 2.0, erase=True))
    m = st.current_mask()
    assert m[30, 45] and not m[10, 10] and m[10, 14]
    st.add_click(Click(25, 25, True))
    predict_all(st)
    m2 = st.current_mask()
    assert m2[30, 45], "brush paint survives a new click"
    assert not m2[10, 10], "eraser survives a new click"
    assert m2[25, 25]
    st.undo()
    st.undo()
    m3 = st.current_mask()
    assert len(st.current.strokes) == 1 and m3[30, 45] and m3[10, 10], "undo removed the eraser stroke only"


def test_clear_current_and_set_class():
    st = AnnotationState((20, 20))
    assert not st.clear_current()
    st.add_click(Click(3, 3))
    st.set_current_class(15)
    assert st.current.class_index == 15
    assert st.clear_current() and st.current.is_empty
    st.undo()
    assert st.current.clicks and st.current.class_index == 15


def test_relabel_delete_hide_resume():
    st = AnnotationState((30, 30))
    st.add_click(Click(10, 10))
    predict_all(st)
    a = st.finish_object()
    st.relabel(a.uid, 7)
    assert st.objects[0].class_index == 7
    st.set_hidden(a.uid, True)
    assert a.uid in st.hidden
    st.mark_saved()
    st.delete(a.uid)
    assert st.objects == () and st.dirty
    st.undo()
    assert st.objects[0].class_index == 7
    assert st.resume(a.uid)
    assert st.objects == () and np.array_equal(st.current_mask(), a.mask), "resumed mask kept exactly"
    assert not st.needs_prediction()
    st.add_click(Click(20, 20))
    assert st.needs_prediction()


def test_compose_later_object_wins():
    shape = (10, 10)
    m1 = np.zeros(shape, bool)
    m1[2:8, 2:8] = True
    m2 = np.zeros(shape, bool)
    m2[5:10, 5:10] = True
    objs = [AnnotObject(1, 3, mask=m1), AnnotObject(2, 9, mask=m2)]
    cls, inst = compose(objs, shape)
    assert inst[6, 6] == 2 and cls[6, 6] == 9
    assert inst[3, 3] == 1 and cls[3, 3] == 3
    assert inst[0, 0] == 0 and cls[9, 9] == 9
    _, inst_hidden = compose(objs, shape, hidden={2})
    assert inst_hidden[6, 6] == 1


def test_class_table_defaults_and_edits():
    t = ClassTable()
    assert len(t) == 20 and t.get(15).name == VOC_CLASSES[14] == "person"
    assert t.get(1).color == tuple(int(v) for v in voc_colormap()[1])
    c = t.add("lamp")
    assert c.index == 21 and t.get(21).name == "lamp"
    t.rename(21, "street lamp")
    t.recolor(21, (1, 2, 3))
    assert t.get(21) .name == "street lamp" and t.palette()[21].tolist() == [1, 2, 3]
    assert t.nth(0).index == 1 and t.nth(20).index == 21 and t.nth(99) is None
    with pytest.raises(ValueError):
        t.rename(21, "  ")
    with pytest.raises(KeyError):
        t.rename(200, "x")


def test_apply_strokes_in_order():
    base = np.zeros((20, 20), bool)
    out = apply_strokes(base, [Stroke(((10.0, 10.0),), 3.0), Stroke(((10.0, 10.0),), 1.0, erase=True)])
    assert out[10, 13] and not out[10, 10] and not base.any()


def test_prediction_cache_keeps_latest_and_is_not_an_edit():
    st = AnnotationState((8, 8))
    st.add_click(Click(1, 1))
    st.mark_saved()
    st.set_prediction(st.current.clicks, False, np.ones((8, 8), np.float32))
    assert not st.dirty
    with pytest.raises(ValueError):
        st.set_prediction(st.current.clicks, False, np.ones((4, 4), np.float32))
    st.refine = True
    assert st.needs_prediction(), "refined predictions are cached separately"
