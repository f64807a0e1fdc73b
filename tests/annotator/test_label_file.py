"""The on-disk format: palette PNGs + sidecar, exact round trip, VOC import, bad files."""
import json

import numpy as np
import pytest
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, ClassTable, Stroke
from models.clicks import Click
from models.errors import AnnotationFileError
from models.fileio import write_index_png


def make_state(shape=(30, 40)):
    st = AnnotationState(shape, ClassTable())
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    for (x, y, r, cls) in ((12, 12, 8, 15), (20, 15, 6, 3)):
        st.set_current_class(cls)
        st.add_click(Click(x, y, True))
        st.add_click(Click(x + r + 2, y, False))
        prob = (((xx - x) ** 2 + (yy - y) ** 2) <= r * r).astype(np.float32)
        st.set_prediction(st.current.clicks, False, prob)
        st.add_stroke(Stroke(((x - 1.0, y + 0.0),), 1.5, erase=True))
        assert st.finish_object() is not None
    st.add_click(Click(35, 25, True))  # unfinished object
    return st


def test_save_writes_palette_pngs_with_right_indices_and_reloads_exactly(tmp_path):
    st = make_state()
    st.classes.recolor(15, (10, 20, 30))
    img = tmp_path / "photo.jpg"
    paths = label_file.save(tmp_path, img, st)
    assert paths.class_png == tmp_path / "SegmentationClass" / "photo.png"
    assert paths.sidecar == tmp_path / "annotations" / "photo.json"
    for p in (paths.class_png, paths.object_png):
        assert Image.open(p).mode == "P"
    cls = np.asarray(Image.open(paths.class_png))
    inst = np.asarray(Image.open(paths.object_png))
    exp_cls, exp_inst = st.label_maps()
    assert np.array_equal(cls, exp_cls) and np.array_equal(inst, exp_inst)
    assert set(np.unique(inst)) == {0, 1, 2} and set(np.unique(cls)) == {0, 3, 15}
    assert inst[12, 17] == 2 and cls[12, 17] == 3, "the later object wins where they overlap"
    assert Image.open(paths.class_png).getpalette()[15 * 3:15 * 3 + 3] == [10, 20, 30]

    loaded = label_file.load(tmp_path, img, st.shape)
    assert not loaded.needs_resave
    assert [o.class_index for o in loaded.objects] == [15, 3]
    for a, b in zip(loaded.objects, st.objects):
        assert a.clicks == b.clicks and a.strokes == b.strokes
        assert np.array_equal(a.mask, b.mask), "full masks (also the covered part) restored"
    assert loaded.current.clicks == (Click(35, 25, True),)
    assert {c.index: c.color for c in loaded.classes}[15] == (10, 20, 30)


def test_unfinished_object_is_void_in_the_pngs_and_its_mask_reloads(tmp_path):
    st = make_state()
    yy, xx = np.mgrid[0:30, 0:40]
    prob = (((xx - 30) ** 2 + (yy - 20) ** 2) <= 7 ** 2).astype(np.float32)
    st.set_prediction(st.current.clicks, False, prob)
    pending = st.raw_current_mask().copy()
    img = tmp_path / "p.png"
    paths = label_file.save(tmp_path, img, st)
    cls, inst = (np.asarray(Image.open(q)) for q in (paths.class_png, paths.object_png))
    finished_cls, finished_inst = st.label_maps()
    outside = pending & (finished_inst == 0)
    assert outside.any() and np.array_equal(inst == 255, outside) and np.array_equal(cls == 255, outside)
    assert np.array_equal(inst[~outside], finished_inst[~outside]), "finished objects keep their pixels"
    loaded = label_file.load(tmp_path, img, st.shape)
    assert not loaded.needs_resave and np.array_equal(loaded.current.mask, pending)
    st2 = AnnotationState(st.shape, ClassTable())
    st2.load_objects(loaded.objects, loaded.current, loaded.void)
    assert not st2.needs_prediction() and np.array_equal(st2.raw_current_mask(), pending)
    assert st2.current.mask is None
    # saved while its prediction is pending (as older writers always did): no mask kept, no 255 written
    st.forget_predictions()
    label_file.save(tmp_path, img, st)
    loaded = label_file.load(tmp_path, img, st.shape)
    assert loaded.current.mask is None and not loaded.needs_resave
    assert not (np.asarray(Image.open(paths.object_png)) == 255).any()


def test_rle_round_trip():
    rng = np.random.default_rng(1)
    for m in (rng.random((7, 9)) > 0.5, np.ones((3, 4), bool), np.zeros((3, 4), bool)):
        assert np.array_equal(label_file.rle_decode(label_file.rle_encode(m), m.shape), m)
    with pytest.raises(ValueError):
        label_file.rle_decode([1, 2], (3, 4))


def test_existing_voc_masks_without_sidecar_open_as_objects(tmp_path):
    inst = np.zeros((20, 20), np.uint8)
    cls = np.zeros((20, 20), np.uint8)
    inst[2:8, 2:8], cls[2:8, 2:8] = 1, 12
    inst[10:15, 10:18], cls[10:15, 10:18] = 2, 7
    inst[8, :], cls[8, :] = 255, 255  # VOC void band
    write_index_png(tmp_path / "SegmentationObject" / "a.png", inst)
    write_index_png(tmp_path / "SegmentationClass" / "a.png", cls)
    loaded = label_file.load(tmp_path, tmp_path / "a.jpg", (20, 20))
    assert [o.class_index for o in loaded.objects] == [12, 7]
    assert np.array_equal(loaded.objects[1].mask, inst == 2)
    assert label_file.load(tmp_path, tmp_path / "other.jpg", (20, 20)) is None


@pytest.mark.parametrize("content,match", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "labelme", "version": 1}), "another schema"),
    (json.dumps({"format": "ifcn-annotation", "version": 99}), "version 99"),
    (json.dumps({"format": "ifcn-annotation", "version": 1, "size": [5, 5]}), "image is 40x30"),
    (json.dumps({"format": "ifcn-annotation", "version": 1, "size": [40, 30],
                 "objects": [{"class": 1, "clicks": [[1, 2]], "mask": {"rle": [1200]}}]}), "click"),
    (json.dumps({"format": "ifcn-annotation", "version": 1, "size": [40, 30],
                 "objects": [{"class": 1, "mask": {"rle": [5]}}]}), "run lengths"),
    (json.dumps({"format": "ifcn-annotation", "version": 1, "size": [40, 30],
                 "objects": [{"class": 999, "mask": {"rle": [1200]}}]}), "class index"),
    (json.dumps([1, 2, 3]), "another schema"),
    (json.dumps({"format": "ifcn-annotation", "version": 1, "size": [40, 30],
                 "current": {"class": 1, "clicks": [[1, 2, True]], "mask": {"rle": [7]}}}), "current: .*run lengths"),
])
def test_bad_sidecar_raises_annotation_error_naming_the_file(tmp_path, content, match):
    p = tmp_path / "annotations" / "x.json"
    p.parent.mkdir()
    p.write_text(content)
    with pytest.raises(AnnotationFileError, match=match) as ei:
        label_file.load(tmp_path, tmp_path / "x.png", (30, 40))
    assert str(p) in str(ei.value)


def test_rgb_or_wrong_size_mask_is_an_annotation_error(tmp_path):
    (tmp_path / "SegmentationObject").mkdir()
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "SegmentationObject" / "x.png")
    with pytest.raises(AnnotationFileError, match="SegmentationObject"):
        label_file.load(tmp_path, tmp_path / "x.png", (30, 40))
    write_index_png(tmp_path / "SegmentationObject" / "x.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(AnnotationFileError, match="5x5"):
        label_file.load(tmp_path, tmp_path / "x.png", (30, 40))


def test_crash_between_sidecar_and_png_is_detected(tmp_path):
    st = make_state()
    label_file.save(tmp_path, tmp_path / "p.png", st)
    paths = label_file.paths_for(tmp_path, "p.png")
    paths.object_png.unlink()  # as if killed after the sidecar write
    loaded = label_file.load(tmp_path, tmp_path / "p.png", st.shape)
    assert loaded.needs_resave and len(loaded.objects) == 2


def test_output_dir_for_voc_jpegimages(tmp_path):
    assert label_file.output_dir_for(tmp_path / "VOC2012" / "JPEGImages") == tmp_path / "VOC2012"
    assert label_file.output_dir_for(tmp_path / "photos") == tmp_path / "photos"


def test_move_aside_keeps_broken_files(tmp_path):
    p = label_file.paths_for(tmp_path, "z.png")
    p.sidecar.parent.mkdir()
    p.sidecar.write_text("garbage")
    moved = label_file.move_aside(p)
    assert len(moved) == 1 and moved[0].read_text() == "garbage" and not p.sidecar.exists()
