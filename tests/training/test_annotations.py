"""`ifcn devkit`: the annotator's saved annotations (written by annotator.label_file) as a VOC devkit."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject
from models import cli
from models.clicks import Click
from models.errors import DatasetError, IFCNError
from models.fileio import read_image, read_index_png
from training.annotations import MARKER, build_devkit, find_annotations, split_holdout
from training.progress import parse_line
from training.voc import VOCDevkit

H, W = 48, 64


def _disc(cx: int, cy: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def annotate(folder, name: str, masks, current_clicks=(), seed: int = 0):
    """Write an image and save its annotation with the annotator's own code (finished `masks`)."""
    yy, xx = np.mgrid[:H, :W]
    rgb = np.stack([xx * 3 + seed * 20, yy * 4, np.full_like(xx, 90)], axis=-1).clip(0, 255).astype(np.uint8)
    path = folder / name
    Image.fromarray(rgb).save(path, quality=95) if name.endswith(".jpg") else Image.fromarray(rgb).save(path)
    st = AnnotationState((H, W))
    current = AnnotObject(uid=0, class_index=3, clicks=tuple(current_clicks)) if current_clicks else None
    st.load_objects([AnnotObject(uid=0, class_index=2 + k, mask=m) for k, m in enumerate(masks)], current)
    label_file.save(folder, path, st)
    return path


@pytest.fixture
def annotated(tmp_path):
    """Six annotated PNG images (two objects each) plus one with only an unfinished object."""
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(6):
        annotate(d, f"a{i}.png", [_disc(18, 20, 10), _disc(46, 26, 9)], seed=i)
    annotate(d, "unfinished.png", [], current_clicks=[Click(10, 10, True)], seed=9)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(d / "not_annotated.png")
    return d


def test_find_annotations_counts_finished_objects_only(annotated):
    found, skipped = find_annotations(annotated)
    assert [a.stem for a in found] == [f"a{i}" for i in range(6)]
    assert all(a.objects == 2 and a.usable == 0 for a in found)  # discs < 400 px: not usable for training
    found, _ = find_annotations(annotated, min_area=100)
    assert all(a.usable == 2 for a in found)
    assert skipped == []


def test_sidecar_names_the_image_when_stems_collide(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    annotate(d, "x.jpg", [_disc(30, 24, 14)])
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(d / "x.png")  # same stem, other file
    found, _ = find_annotations(d)
    assert found[0].image.name == "x.jpg"
    assert json.loads((d / "annotations" / "x.json").read_text())["image"] == "x.jpg"


def test_split_holdout_is_seeded_and_keeps_both_sides():
    stems = [f"s{i}" for i in range(10)]
    train, val = split_holdout(stems, 0.2, seed=1)
    assert len(val) == 2 and sorted(train + val) == sorted(stems)
    assert split_holdout(stems, 0.2, seed=1) == (train, val)
    assert any(split_holdout(stems, 0.2, seed=s)[1] != val for s in range(2, 8))
    assert len(split_holdout(stems[:3], 0.01, 0)[1]) == 1  # a positive share holds out at least one
    assert len(split_holdout(stems[:3], 0.99, 0)[0]) == 1  # ... and keeps at least one for training
    assert split_holdout(stems, 0.0, 0)[1] == [] and split_holdout(stems, 1.0, 0)[0] == []
    with pytest.raises(IFCNError, match="between 0 and 1"):
        split_holdout(stems, 1.5, 0)


def test_build_devkit_layout_split_and_pixels(annotated, tmp_path):
    out = tmp_path / "devkit"
    s = build_devkit(annotated, out, holdout=0.34, seed=3, min_objects=0)
    assert (s.images, s.objects, s.train_images, s.val_images) == (6, 12, 4, 2)
    assert (s.train_objects, s.val_objects) == (8, 4)
    dk = VOCDevkit(out)
    train, val = dk.image_ids("train"), dk.image_ids("val")
    assert sorted(train + val) == [f"a{i}" for i in range(6)] and not set(train) & set(val)
    assert (train, val) == split_holdout([f"a{i}" for i in range(6)], 0.34, 3)
    sample = dk.load(val[0])
    assert np.array_equal(sample.objects, read_index_png(annotated / "SegmentationObject" / f"{val[0]}.png"))
    assert sample.classes is not None and set(np.unique(sample.classes)) == {0, 2, 3}
    # PNG images were re-encoded as JPEG (VOC names images <id>.jpg); masks are hardlinks
    assert s.converted == 6
    jpg = read_image(out / "JPEGImages" / f"{val[0]}.jpg").astype(int)
    assert np.abs(jpg - read_image(annotated / f"{val[0]}.png").astype(int)).mean() < 4
    assert os.stat(out / "SegmentationObject" / "a0.png").st_ino == \
        os.stat(annotated / "SegmentationObject" / "a0.png").st_ino
    assert json.loads((out / MARKER).read_text())["val_images"] == 2
    # a rebuild over its own devkit replaces it; another seed gives another split
    s2 = build_devkit(annotated, out, holdout=0.34, seed=4, min_objects=0)
    assert s2.val_images == 2 and sorted(VOCDevkit(out).image_ids("trainval")) == [f"a{i}" for i in range(6)]


def test_refuses_too_few_objects_and_foreign_folders(annotated, tmp_path):
    out = tmp_path / "devkit"
    with pytest.raises(DatasetError, match=r"only 0 annotated object\(s\) large enough.*at least 5"):
        build_devkit(annotated, out, min_objects=5)  # all discs are below the 400 px training minimum
    assert not out.exists()  # nothing written on refusal
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(IFCNError, match="not empty"):
        build_devkit(annotated, foreign, min_objects=0)
    assert (foreign / "keep.txt").read_text() == "mine"
    with pytest.raises(DatasetError, match="no annotations here"):
        build_devkit(tmp_path / "foreign", out, min_objects=0)


def test_extra_voc_devkit_joins_training(annotated, synthetic_devkit, tmp_path):
    s = build_devkit(annotated, tmp_path / "dk", holdout=0.5, seed=0, min_objects=0, voc_root=synthetic_devkit)
    extra_train = VOCDevkit(synthetic_devkit).image_ids("train")
    dk = VOCDevkit(tmp_path / "dk")
    assert s.extra_images == len(extra_train)
    assert set(extra_train) <= set(dk.image_ids("train")) and not set(extra_train) & set(dk.image_ids("val"))
    dk.load(extra_train[0])


def test_cli_progress_json_and_refusal(annotated, tmp_path, capsys):
    rc = cli.main(["devkit", "--annotations", str(annotated), "--out", str(tmp_path / "dk"),
                   "--holdout", "0.5", "--min-objects", "0", "--progress-json"])
    captured = capsys.readouterr()
    events = [parse_line(line) for line in captured.out.splitlines()]
    assert rc == 0 and all(e is not None for e in events), captured.out
    assert [e["event"] for e in events] == ["devkit", "end"]
    assert events[0]["images"] == 6 and events[0]["val_images"] == 3
    assert "annotated images: 6" in captured.err
    rc = cli.main(["devkit", "--annotations", str(annotated), "--out", str(tmp_path / "dk2"),
                   "--min-objects", "50"])
    captured = capsys.readouterr()
    assert rc == 2 and "error:" in captured.err and "at least 50" in captured.err


def test_out_overlapping_the_inputs_is_refused_and_nothing_is_deleted(annotated, tmp_path):
    """`ifcn devkit --annotations D --out D` (or an --out holding D) would rebuild the devkit over the user's
    images and masks: refused before anything is touched (issue 15 item 12). An --out inside D is fine."""
    before = sorted(p.relative_to(annotated) for p in annotated.rglob("*"))
    build_devkit(annotated, tmp_path / "ok", min_objects=0)  # a devkit made by ifcn devkit, reused below
    for out in (annotated, tmp_path):
        with pytest.raises(IFCNError, match="overlaps --annotations"):
            build_devkit(annotated, out, min_objects=0)
    build_devkit(annotated, annotated / "training-runs" / "run-1" / "devkit", min_objects=0)  # the GUI's place
    with pytest.raises(IFCNError, match="overlaps --voc-root"):
        build_devkit(annotated, tmp_path / "ok", min_objects=0, voc_root=tmp_path / "ok")
    after = [p.relative_to(annotated) for p in annotated.rglob("*")]
    assert sorted(p for p in after if p.parts[0] != "training-runs") == before


def test_split_file_ids_with_folders_are_refused_naming_the_line(tmp_path):
    """A downloaded devkit's train.txt must not send reads or writes outside its folders (issue 15 item 13)."""
    root = tmp_path / "VOC2012"
    for sub in ("JPEGImages", "SegmentationObject", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True)
    for bad in ("../../etc/passwd", "a/b", "..", "x\\y"):
        (root / "ImageSets/Segmentation/train.txt").write_text(f"good_1\n\n{bad}\n")
        with pytest.raises(DatasetError, match=r"train.txt, line 3: .*not an image id"):
            VOCDevkit(root).image_ids("train")
    (root / "ImageSets/Segmentation/train.txt").write_text("2007_000032\n2007_000039 1\n")
    assert VOCDevkit(root).image_ids("train") == ["2007_000032", "2007_000039"]


def test_exif_rotated_jpeg_is_written_upright_at_its_masks_size(tmp_path):
    """Issue 15 item 14: a JPEG whose EXIF says 'rotate 90°' is annotated upright (W x H swapped); the devkit
    image must have the masks' size and pixels for any reader, not only for one that applies EXIF."""
    d = tmp_path / "imgs"
    d.mkdir()
    yy, xx = np.mgrid[:W, :H]  # stored as H_raw=W rows x W_raw=H cols; shown rotated: H x W like the masks
    raw = np.stack([xx * 5, yy * 3, np.full_like(xx, 90)], axis=-1).clip(0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(raw).save(d / "rot.jpg", quality=95, exif=exif.tobytes())
    shown = read_image(d / "rot.jpg")
    assert shown.shape[:2] == (H, W), "read_image applies the orientation"
    st = AnnotationState((H, W))
    st.load_objects([AnnotObject(uid=0, class_index=2 + k, mask=_disc(14 + 30 * k, 24, 12)) for k in range(2)])
    label_file.save(d, d / "rot.jpg", st)
    for i in range(5):
        annotate(d, f"a{i}.jpg", [_disc(18, 20, 10), _disc(46, 26, 9)], seed=i)
    s = build_devkit(d, tmp_path / "dk", min_objects=0)
    img = tmp_path / "dk" / "JPEGImages" / "rot.jpg"
    with Image.open(img) as im:  # a reader that ignores EXIF, like most VOC loaders
        raw_size = im.size
        raw_pixels = np.asarray(im.convert("RGB"), dtype=np.int16)
    mask = read_index_png(tmp_path / "dk" / "SegmentationObject" / "rot.png")
    assert raw_size == (W, H) == (mask.shape[1], mask.shape[0]), "the image is the size of its masks"
    assert np.abs(raw_pixels - shown).mean() < 3, "and has the pixels the masks were drawn on"
    assert not os.path.samefile(img, d / "rot.jpg") and s.converted == 1
    assert os.path.samefile(tmp_path / "dk" / "JPEGImages" / "a0.jpg", d / "a0.jpg"), "upright JPEGs stay linked"
