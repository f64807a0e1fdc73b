"""File names: backups never overwrite one another, long image names save, impossible names say so."""
import errno
import time

import numpy as np
import pytest

from annotator import label_file
from annotator.state import AnnotationState, ClassTable
from models import fileio
from models.clicks import Click
from models.errors import AnnotationFileError
from tests.reliability.killloop import make_image_folder


def one_object_state(shape=(40, 56)):
    """A state with one finished disc object."""
    st = AnnotationState(shape, ClassTable())
    st.add_click(Click(20, 20, True))
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    st.set_prediction(st.current.clicks, False, (((xx - 20) ** 2 + (yy - 20) ** 2) <= 64).astype(np.float32))
    assert st.finish_object() is not None
    return st


# ---- issue 15, item 9: backup names -------------------------------------------------------------
def test_backups_within_one_second_never_overwrite_each_other(tmp_path, monkeypatch, figures):
    monkeypatch.setattr(time, "strftime", lambda *a, **k: "20240101-120000")  # one and the same second
    paths = label_file.paths_for(tmp_path, tmp_path / "im0.png")
    paths.sidecar.parent.mkdir(parents=True)
    contents = [f"broken {i}" for i in range(4)]
    moved = []
    for text in contents:
        paths.sidecar.write_text(text)
        moved += label_file.move_aside(paths)
    assert not paths.sidecar.exists()
    assert len(set(moved)) == 4 and sorted(p.read_text() for p in moved) == contents
    assert all(p.name.startswith("im0.json.broken-20240101-120000") for p in moved)
    figures["inputs"] += 4


def test_backup_never_replaces_a_file_that_appears_under_its_name(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda *a, **k: "20240101-120000")
    src = tmp_path / "a.json"
    src.write_text("new")
    (tmp_path / "a.json.broken-20240101-120000").write_text("older backup")
    dst = fileio.move_to_backup(src)
    assert dst.read_text() == "new" and (tmp_path / "a.json.broken-20240101-120000").read_text() == "older backup"


def test_window_keeps_every_backup_of_a_sidecar_broken_twice(tmp_path, window, dialogs_rec, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda *a, **k: "20240101-120000")
    folder = make_image_folder(tmp_path / "images", n=2)
    sidecar = label_file.paths_for(folder, folder / "im0.png").sidecar
    sidecar.parent.mkdir(parents=True)
    for attempt in ("{first broken", "{second broken"):
        sidecar.write_text(attempt)
        w = window(folder)
        assert w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object() and not w.dirty
        w.close()
    kept = sorted(p.read_text() for p in sidecar.parent.glob("im0.json.broken-*"))
    assert kept == ["{first broken", "{second broken"]


# ---- issue 15, item 11: long names ----------------------------------------------------------------
def test_atomic_write_of_a_255_byte_name(tmp_path):
    name = "\u732b" * 83 + ".png"  # 83 CJK characters = 249 bytes + 4
    assert len(name.encode()) == 253
    fileio.atomic_write_bytes(tmp_path / name, b"data")
    assert (tmp_path / name).read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == [name], "no temp file left behind"


def test_temps_of_long_names_left_by_a_killed_write_are_cleaned(tmp_path, monkeypatch):
    name = "x" * 250 + ".json"
    real_replace, real_unlink = fileio.os.replace, fileio.os.unlink

    def killed(*a):
        raise KeyboardInterrupt  # the process dies after writing its temp file: nothing cleans up
    monkeypatch.setattr(fileio.os, "replace", killed)
    monkeypatch.setattr(fileio.os, "unlink", killed)
    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_write_bytes(tmp_path / name, b"1")
    monkeypatch.setattr(fileio.os, "replace", real_replace)
    monkeypatch.setattr(fileio.os, "unlink", real_unlink)
    (stale,) = list(tmp_path.iterdir())
    assert len(stale.name.encode()) <= 255
    old = time.time() - 2 * fileio.STALE_TEMP_SECONDS
    fileio.os.utime(stale, (old, old))
    fileio.atomic_write_bytes(tmp_path / name, b"2")
    assert [p.name for p in tmp_path.iterdir()] == [name], "the next write of that file removed the stale temp"


@pytest.mark.parametrize("n_chars", [80, 82])
def test_image_with_a_237_plus_byte_stem_saves_and_reloads(tmp_path, window, dialogs_rec, n_chars):
    stem = "\u732b" * n_chars  # 240 / 246 bytes: the old temp names were over 255 bytes
    folder = make_image_folder(tmp_path / "images", n=1)
    img = folder / f"{stem}.png"
    (folder / "im0.png").rename(img)
    w = window(folder)
    assert w.current_image_path == img
    assert w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object()
    assert not w.dirty and dialogs_rec.errors() == []
    assert w.file_list.is_done(0)
    loaded = label_file.load(folder, img, (40, 56))
    assert len(loaded.objects) == 1 and not loaded.needs_resave
    leftovers = [p.name for d in ("annotations", "SegmentationClass", "SegmentationObject")
                 for p in (folder / d).iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_impossible_name_is_refused_with_a_message_about_the_name(tmp_path, window, dialogs_rec):
    stem = "y" * 251  # the image name fits in 255 bytes, `<stem>.json` does not
    folder = make_image_folder(tmp_path / "images", n=1)
    img = folder / f"{stem}.png"
    (folder / "im0.png").rename(img)
    with pytest.raises(AnnotationFileError, match="too long") as e:
        label_file.save(folder, img, one_object_state())
    assert "rename" in str(e.value).lower()
    w = window(folder)  # opening the folder must not crash on the name either
    assert w.current_image_path == img
    assert w.add_click(20, 20) and w.wait_for_inference(5)
    w.finish_object()
    assert w.dirty, "not saved, work kept in memory"
    (kind, title, text), = dialogs_rec.errors()
    assert "too long" in text and "rename" in text.lower()
    assert "writable" not in text and "permission" not in text.lower()


def test_disk_errors_are_named_for_what_they_are(tmp_path, window, dialogs_rec, monkeypatch):
    folder = make_image_folder(tmp_path / "images", n=1)
    w = window(folder)

    def nametoolong(path, data):
        raise OSError(errno.ENAMETOOLONG, "File name too long", str(path))
    monkeypatch.setattr(fileio, "atomic_write_bytes", nametoolong)
    assert w.add_click(20, 20) and w.wait_for_inference(5)
    w.finish_object()
    (kind, title, text), = dialogs_rec.errors()
    assert "too long" in text and "writable" not in text
