"""Masks this program did not write (issue 15, item 7): a VOC devkit's own masks and masks edited by another
tool keep their void (255) borders and their class-only pixels through a save, and the first overwrite
keeps the original."""
import json
import os

import cv2
import numpy as np
from PIL import Image

from annotator import foreign_masks, label_file
from annotator.state import AnnotationState, ClassTable, Stroke
from models.fileio import atomic_write_text, read_index_png, voc_colormap, write_index_png
from tests.reliability.killloop import make_image_folder
from tests.window_factory import click

H, W = 40, 56


def _devkit(root):
    """A VOC devkit of two images whose masks carry VOC's 255 band and a class-only region (class 7)."""
    make_image_folder(root / "JPEGImages", n=2, size=(H, W))
    inst = np.zeros((H, W), np.uint8)
    inst[5:20, 5:25] = 1
    inst[22:36, 30:50] = 2
    cls = np.where(inst == 1, 15, np.where(inst == 2, 12, 0)).astype(np.uint8)
    band, ker = np.zeros((H, W), bool), np.ones((5, 5), np.uint8)
    for k in (1, 2):  # VOC's band: about 2 px either side of each object's outline
        m = (inst == k).astype(np.uint8)
        band |= (cv2.dilate(m, ker) > 0) & ~(cv2.erode(m, ker) > 0)
    inst[band], cls[band] = 255, 255
    cls[2:6, 40:54] = 7  # class pixels without an instance (e.g. a stuff class of another tool)
    for stem in ("im0", "im1"):
        write_index_png(root / "SegmentationClass" / f"{stem}.png", cls, voc_colormap())
        write_index_png(root / "SegmentationObject" / f"{stem}.png", inst, voc_colormap())
    return cls, inst


def test_devkit_masks_keep_void_borders_and_class_pixels_and_a_backup(tmp_path, window, dialogs_rec, qtbot):
    root = tmp_path / "VOC"
    cls0, inst0 = _devkit(root)
    originals = {p: p.read_bytes() for p in (root / "SegmentationClass" / "im0.png",
                                             root / "SegmentationObject" / "im0.png")}
    w = window(root / "JPEGImages")
    assert w.images[w.index].stem == "im0" and dialogs_rec.errors() == []
    assert len(w.state.objects) == 3, "two instances and the class-only region"
    assert np.array_equal(w.state.void.mask((H, W)), inst0 == 255)
    click(qtbot, w, 8, 36)  # a new object in the free bottom-left corner
    assert w.wait_for_inference() and w.finish_object()  # autosave: the first overwrite
    cls, inst = (read_index_png(root / d / "im0.png") for d in ("SegmentationClass", "SegmentationObject"))
    new = inst == 4
    assert new.any() and not (new & (inst0 != 0)).any()
    assert np.array_equal(cls[~new], cls0[~new]), "void borders and class-only pixels exactly as they were"
    assert np.array_equal(inst == 255, inst0 == 255)
    assert np.array_equal(inst[(inst0 > 0) & (inst0 < 255)], inst0[(inst0 > 0) & (inst0 < 255)])
    for p, data in originals.items():
        (kept,) = p.parent.glob(f"{p.name}.{foreign_masks.BACKUP_TAG}-*")
        assert kept.read_bytes() == data, f"{kept.name} is the original"
    assert "another program" in w.statusBar().currentMessage()
    click(qtbot, w, 50, 6)
    assert w.wait_for_inference() and w.finish_object()  # second save: ours now, no second backup
    assert len(list((root / "SegmentationObject").glob("im0.png.orig-*"))) == 1
    assert "another program" not in w.statusBar().currentMessage()
    assert w.next_image() and not list((root / "SegmentationObject").glob("im1.png.orig-*")), \
        "an image opened and left unchanged is not rewritten"
    assert np.array_equal(read_index_png(root / "SegmentationClass" / "im1.png"), cls0)


def test_mask_edited_by_another_tool_after_our_save_is_backed_up(tmp_path, window, dialogs_rec):
    folder = make_image_folder(tmp_path / "images", n=1, size=(H, W))
    w = window(folder)
    w.state.add_stroke(Stroke(((10, 10), (30, 10)), 4))
    assert w.finish_object()
    w.close()
    obj_png = folder / "SegmentationObject" / "im0.png"
    edited = read_index_png(obj_png).copy()
    edited[30:35, 40:50] = 255  # another tool marks a void patch; its file is newer than the sidecar
    write_index_png(obj_png, edited, voc_colormap())
    later = (folder / "annotations" / "im0.json").stat().st_mtime_ns + 10**9  # minutes later, in real life
    os.utime(obj_png, ns=(later, later))
    data = obj_png.read_bytes()
    w2 = window(folder)
    assert w2.dirty, "the PNG disagrees with the sidecar"
    assert w2.save()
    (kept,) = obj_png.parent.glob("im0.png.orig-*")
    assert kept.read_bytes() == data
    assert "another program" in w2.statusBar().currentMessage()


def test_save_cut_short_is_redone_without_a_backup(tmp_path):
    """A PNG older than its sidecar is this program's own, left by a save cut short: no backup."""
    folder = make_image_folder(tmp_path / "images", n=1, size=(H, W))
    s = AnnotationState((H, W), ClassTable())
    s.add_stroke(Stroke(((10, 10),), 4))
    s.finish_object()
    paths = label_file.save(folder, folder / "im0.png", s)
    s.add_void_stroke(Stroke(((40, 30),), 3))
    atomic_write_text(paths.sidecar, json.dumps(label_file.to_sidecar(s, "im0.png")))  # then a crash
    loaded = label_file.load(folder, folder / "im0.png", (H, W))
    assert loaded.needs_resave and loaded.foreign == []


def test_foreign_class_png_alone_keeps_void(tmp_path):
    folder = make_image_folder(tmp_path / "images", n=1, size=(H, W))
    cls = np.zeros((H, W), np.uint8)
    cls[5:15, 5:15], cls[4, 4:16] = 3, 255
    write_index_png(folder / "SegmentationClass" / "im0.png", cls, voc_colormap())
    loaded = label_file.load(folder, folder / "im0.png", (H, W))
    assert [o.class_index for o in loaded.objects] == [3]
    assert np.array_equal(loaded.void.mask((H, W)), cls == 255)
    assert loaded.foreign == [folder / "SegmentationClass" / "im0.png"]
    assert Image.open(folder / "SegmentationClass" / "im0.png").mode == "P"
