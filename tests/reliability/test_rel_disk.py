"""Disk faults: saves cut short, full / read-only disks, an output folder that vanishes; nothing is lost."""
import errno
import random
import shutil

import numpy as np
import pytest

from annotator import label_file
from annotator.state import compose
from models import fileio
from tests.reliability.killloop import make_image_folder


class SimulatedCrash(BaseException):
    """The process dies here (BaseException: nothing in the save path may swallow it)."""


def annotate(w, x, y, finish=True):
    """A positive click, wait for its mask, finish (autosave)."""
    assert w.add_click(x, y, True)
    assert w.wait_for_inference(5)
    if finish:
        assert w.finish_object()


def on_disk(out, image, shape):
    """(class map, instance map, needs_resave, sidecar objects) as the annotator's loader sees them."""
    loaded = label_file.load(out, image, shape)
    if loaded is None:
        return None
    cls, inst = compose(loaded.objects, shape)
    return cls, inst, loaded.needs_resave, loaded.objects


def crash_after(monkeypatch, n_ok):
    """The next save dies after `n_ok` of its atomic writes (sidecar, class PNG, object PNG) completed.

    Every write of the project goes through models.fileio.atomic_write_bytes (text ones too).
    """
    done = []
    real = fileio.atomic_write_bytes

    def write(path, data):
        if len(done) >= n_ok:
            raise SimulatedCrash(str(path))
        done.append(path)
        return real(path, data)
    monkeypatch.setattr(fileio, "atomic_write_bytes", write)
    return lambda: monkeypatch.setattr(fileio, "atomic_write_bytes", real)


@pytest.mark.parametrize("edit", ["add", "relabel", "delete"])
@pytest.mark.parametrize("n_ok", [1, 2])
def test_save_cut_short_is_detected_on_open_and_repaired(tmp_path, window, monkeypatch, figures, edit, n_ok):
    folder = make_image_folder(tmp_path / "images", n=2)
    w = window(folder)
    annotate(w, 10, 10)
    annotate(w, 30, 22)
    img, shape = w.current_image_path, w.state.shape
    if edit == "add":
        annotate(w, 45, 30, finish=False)
        w.settings = w.settings.updated(autosave=False)
        assert w.finish_object()
    elif edit == "relabel":
        w.relabel_object(w.state.objects[0].uid, 7)
    else:
        w.delete_object(w.state.objects[0].uid)
    want_cls, want_inst = w.state.label_maps()
    restore = crash_after(monkeypatch, n_ok)
    with pytest.raises(SimulatedCrash):
        label_file.save(w.output_dir, img, w.state)
    restore()
    figures["inputs"] += 1
    cls, inst, needs_resave, _ = on_disk(w.output_dir, img, shape)
    assert np.array_equal(cls, want_cls) and np.array_equal(inst, want_inst), "the sidecar holds the edit"
    on_png = (fileio.read_index_png(label_file.paths_for(w.output_dir, img).class_png),
              fileio.read_index_png(label_file.paths_for(w.output_dir, img).object_png))
    stale = not (np.array_equal(on_png[0], cls) and np.array_equal(on_png[1], inst))
    if edit != "relabel" or n_ok == 1:
        assert stale, "the crash left older PNGs (else this case tests nothing)"
    assert needs_resave == stale, "PNGs older than the sidecar must be detected, or they stay wrong for good"

    # a fresh session repairs them when it leaves the image
    w2 = window(folder)
    assert w2.dirty == stale
    assert w2.next_image()
    assert np.array_equal(fileio.read_index_png(label_file.paths_for(w.output_dir, img).class_png), want_cls)
    assert np.array_equal(fileio.read_index_png(label_file.paths_for(w.output_dir, img).object_png), want_inst)
    assert not on_disk(w.output_dir, img, shape)[2]


def test_saved_files_get_the_usual_permissions_not_the_temp_files_0600(tmp_path, window):
    """Masks are shared with training jobs and colleagues: an atomic write must not leave them private."""
    import os
    import stat

    folder = make_image_folder(tmp_path / "images", n=1)
    w = window(folder)
    annotate(w, 12, 12)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what open() gives under the current umask
    want = stat.S_IMODE(plain.stat().st_mode)
    paths = label_file.paths_for(w.output_dir, w.current_image_path)
    for p in (paths.sidecar, paths.class_png, paths.object_png):
        assert stat.S_IMODE(p.stat().st_mode) == want, p
    os.chmod(paths.sidecar, 0o640)  # an existing file keeps the mode its owner gave it
    annotate(w, 40, 30)
    assert stat.S_IMODE(paths.sidecar.stat().st_mode) == 0o640


FAULTS = (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EACCES)


def _temp_files(out):
    return [p for p in out.rglob(".*") if p.is_file()]


def test_random_disk_faults_never_lose_work(tmp_path, window, dialogs_rec, monkeypatch, figures):
    """Writes fail at random (full disk, I/O error, read-only, denied) while the user edits and switches.

    Invariants after every action: a window that says "saved" (not dirty) has exactly its state on disk;
    an image is only ever left after a save that completed; a failed write leaves no temp file behind.
    """
    import os

    folder = make_image_folder(tmp_path / "images", n=3, seed=5)
    out = tmp_path / "out"
    rng = random.Random(7)  # the user's actions
    fault_rng = random.Random(8)  # which writes fail: every fsync draws, so other writers (lock, class list)
    fault = {"p": 0.0, "n": 0}    # must not reshuffle the actions
    real_replace, real_fsync = os.replace, os.fsync

    def maybe_fail(target):
        if fault_rng.random() < fault["p"]:
            fault["n"] += 1
            code = fault_rng.choice(FAULTS)
            raise OSError(code, os.strerror(code), str(target))

    def flaky_replace(src, dst, *a, **k):
        if str(dst).startswith(str(out)):
            maybe_fail(dst)
        return real_replace(src, dst, *a, **k)

    def flaky_fsync(fd):
        maybe_fail(f"fd {fd}")
        return real_fsync(fd)

    monkeypatch.setattr(fileio.os, "replace", flaky_replace)
    monkeypatch.setattr(fileio.os, "fsync", flaky_fsync)
    w = window(folder)
    w.set_output_dir(out)
    dialogs_rec.answer = "cancel"  # asked whether to drop unsaved work: never
    left_with = {}  # stem -> label maps when the image was left
    actions = 0
    for step in range(70):
        fault["p"] = rng.choice((0.0, 0.3, 0.6))
        st = w.state
        h, wd = st.shape
        before = (w.index, st.objects, w.dirty)
        op = rng.choice(("object", "object", "relabel", "delete", "undo", "switch", "save"))
        if op == "object":
            w.add_click(rng.randrange(wd), rng.randrange(h), True)
            w.wait_for_inference(5)
            w.finish_object()
        elif op == "relabel" and st.objects:
            w.relabel_object(rng.choice(st.objects).uid, rng.randint(1, 20))
        elif op == "delete" and st.objects:
            w.delete_object(rng.choice(st.objects).uid)
        elif op == "undo":
            w.undo()
        elif op == "switch":
            maps, stem = st.label_maps(), w.current_image_path.stem
            target = rng.choice([i for i in range(len(w.images)) if i != w.index])
            if w.go_to(target):
                left_with[stem] = maps
            else:
                assert (w.index, w.state.objects, w.dirty) == (before[0], before[1], True), \
                    "a refused switch keeps the image, its objects and the dirty flag"
        elif op == "save":
            w.save()
        actions += 1
        if not w.dirty:
            disk = on_disk(out, w.current_image_path, w.state.shape)
            want = w.state.label_maps()
            if w.state.objects or disk is not None:
                assert disk is not None and not disk[2], f"step {step}: saved state is not on disk"
                assert np.array_equal(disk[0], want[0]) and np.array_equal(disk[1], want[1]), f"step {step}"
        assert _temp_files(out) == [], "a failed atomic write must remove its temp file"
    assert fault["n"] >= 5, "the faults were actually injected"
    errors = dialogs_rec.errors()
    assert errors and all(t == "Could not save" and "kept in memory" in x for _, t, x in errors)
    # the disk recovers: one Ctrl+S writes what is in memory; every image left earlier is intact
    fault["p"] = 0.0
    assert w.save() and not w.dirty
    left_with[w.current_image_path.stem] = w.state.label_maps()
    for img in w.images:
        if img.stem in left_with:
            disk = on_disk(out, img, w.state.shape)
            want = left_with[img.stem]
            if disk is None and not want[1].any():
                continue  # left without ever holding an object: nothing to write (no sidecar, no PNGs)
            assert disk is not None and not disk[2]
            assert np.array_equal(disk[0], want[0]) and np.array_equal(disk[1], want[1]), img.stem
    figures["inputs"] += actions + fault["n"]


def test_output_folder_vanishing_mid_session(tmp_path, window, dialogs_rec, figures):
    folder = make_image_folder(tmp_path / "images", n=2)
    out = tmp_path / "usb" / "out"
    w = window(folder)
    w.set_output_dir(out)
    annotate(w, 10, 10)
    assert not w.dirty and (out / "annotations" / "im0.json").is_file()

    # the folder is deleted: the next autosave recreates it with everything in memory
    shutil.rmtree(tmp_path / "usb")
    annotate(w, 40, 25)
    assert not w.dirty and not dialogs_rec.errors()
    disk = on_disk(out, w.current_image_path, w.state.shape)
    assert len(disk[3]) == 2 and not disk[2]

    # the drive goes away for good (something else stands where the folder was): clear message, kept
    shutil.rmtree(tmp_path / "usb")
    (tmp_path / "usb").write_text("unmounted")
    annotate(w, 25, 30)
    assert w.dirty and len(w.state.objects) == 3
    kind, title, text = dialogs_rec.errors()[-1]
    assert kind == "error" and "im0" in text and str(out) in text and "kept in memory" in text
    assert not w.next_image() and w.index == 0 and len(w.state.objects) == 3
    w.close()
    assert w.isVisible(), "closing with unsaved work that cannot be saved is refused"
    # it comes back: Ctrl+S saves all three objects
    (tmp_path / "usb").unlink()
    assert w.save() and not w.dirty
    disk = on_disk(out, w.current_image_path, w.state.shape)
    assert len(disk[3]) == 3 and not disk[2]
    figures["inputs"] += 4
