"""Fuzzing: random corruptions of valid PNG / JPEG / mask / sidecar / checkpoint files.

Each corrupted file must either still read (and then behave) or give the project's error naming the file;
never another exception, never a hang. The seeds are fixed, so a failure names a reproducible case.
"""
import json
import random
import traceback

import numpy as np
import pytest

from annotator import label_file
from annotator.state import AnnotationState, ClassTable
from models.checkpoint import load_checkpoint
from models.clicks import Click
from models.errors import IFCNError
from models.fileio import read_image, read_index_png
from tests.reliability.hostile import deadline, encode, mutate_bytes, mutate_json
from tests.reliability.killloop import make_image_folder

SHAPE = (40, 56)


def _valid_state():
    st = AnnotationState(SHAPE, ClassTable())
    yy, xx = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    for x, y, cls in ((12, 12, 15), (30, 20, 3)):
        st.set_current_class(cls)
        st.add_click(Click(x, y, True))
        st.add_click(Click(x + 9, y, False))
        st.set_prediction(st.current.clicks, False, ((xx - x) ** 2 + (yy - y) ** 2 <= 49).astype(np.float32))
        from annotator.state import Stroke
        st.add_stroke(Stroke(((x - 1.0, y + 0.0), (x + 2.0, y + 1.0)), 1.5, erase=True))
        st.finish_object()
    st.add_click(Click(45, 30, True))
    return st


def _try(path, fn, failures, case):
    """Run a reader; None on the project's error naming the file, else its result; record anything else."""
    try:
        with deadline(20):
            return fn(path), True
    except IFCNError as e:
        if str(path) not in str(e) and path.name not in str(e):
            failures.append(f"{case}: error does not name the file: {e}")
        return None, False
    except BaseException as e:  # noqa: BLE001 - any other outcome is the bug being hunted
        failures.append(f"{case}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}")
        return None, False


def _exercise(loaded, out_dir, image):
    """Use a sidecar that loaded the way the annotator does: restore, draw, save, reload."""
    st = AnnotationState(SHAPE, ClassTable())
    st.classes.merge(loaded.classes)
    st.load_objects(loaded.objects, loaded.current)
    st.current_mask()
    st.label_maps()
    st.classes.palette()
    label_file.save(out_dir, image, st)
    label_file.load(out_dir, image, SHAPE)


@pytest.mark.slow
def test_fuzz_images_masks_and_sidecars(tmp_path, figures):
    rng = random.Random(20240601)
    rgb = np.random.default_rng(0).integers(0, 255, (*SHAPE, 3), dtype=np.uint8)
    folder = make_image_folder(tmp_path / "images", n=1)
    image = folder / "im0.png"
    st = _valid_state()
    paths = label_file.save(folder, image, st)
    seeds = {
        "png": (encode(rgb, "PNG"), read_image),
        "jpeg": (encode(rgb, "JPEG", quality=85), read_image),
        "mask": (paths.object_png.read_bytes(), read_index_png),
    }
    failures: list[str] = []
    fuzzed = 0
    work = tmp_path / "fuzz"
    work.mkdir()
    for kind, (data, reader) in seeds.items():
        for i in range(70):
            p = work / f"{kind}{i}.{'jpg' if kind == 'jpeg' else 'png'}"
            p.write_bytes(mutate_bytes(data, rng))
            _try(p, reader, failures, f"{kind} #{i}")
            fuzzed += 1
    sidecar = paths.sidecar.read_bytes()
    doc = json.loads(sidecar)
    sc_dir = folder / label_file.SIDECAR_DIR
    outcomes = {True: 0, False: 0}
    for i in range(220):
        if i % 3 == 0:
            content = mutate_bytes(sidecar, rng)
        else:
            content = json.dumps(mutate_json(doc, rng)).encode()
            if rng.random() < 0.3:
                content = json.dumps(mutate_json(json.loads(content), rng)).encode()
        (sc_dir / "im0.json").write_bytes(content)
        loaded, ok = _try(paths.sidecar, lambda p: label_file.load(folder, image, SHAPE), failures,
                          f"sidecar #{i}")
        outcomes[ok] += 1
        if ok and loaded is not None:
            try:
                _exercise(loaded, tmp_path / "resaved", image)
            except BaseException as e:  # noqa: BLE001
                failures.append(f"sidecar #{i} loaded but then broke: {type(e).__name__}: {e}\n"
                                f"{content[:300]!r}")
        fuzzed += 1
        label_file.save(folder, image, st)  # fresh PNGs for the next case
    figures["files_fuzzed"] += fuzzed
    assert failures == [], "\n".join(failures[:10])
    assert outcomes[True] >= 20 and outcomes[False] >= 20, "both accepted and refused mutations were tried"


@pytest.mark.slow
def test_fuzz_checkpoints(tmp_path, small_checkpoint, figures):
    rng = random.Random(77)
    data = small_checkpoint.read_bytes()
    failures: list[str] = []
    n = 0
    for i in range(10):
        p = tmp_path / f"ck{i}.pt"
        p.write_bytes(mutate_bytes(data, rng, focus=4096))
        _try(p, load_checkpoint, failures, f"checkpoint #{i}")
        n += 1
    figures["files_fuzzed"] += n
    assert failures == [], "\n".join(failures[:10])


def test_fuzzed_sidecars_through_the_window(tmp_path, window, dialogs_rec, figures):
    """The same corruptions, opened by the real window: a message or the objects, never an exception."""
    rng = random.Random(5)
    folder = make_image_folder(tmp_path / "images", n=1)
    image = folder / "im0.png"
    st = _valid_state()
    paths = label_file.save(folder, image, st)
    doc = json.loads(paths.sidecar.read_text())
    w = window()
    n = 0
    for i in range(40):
        for p in paths.sidecar.parent.iterdir():
            p.unlink()
        paths.sidecar.write_text(json.dumps(mutate_json(doc, rng)))
        dialogs_rec.messages.clear()
        assert w.open_folder(folder) and w.state is not None
        if dialogs_rec.messages:
            # refused, or (issue 15 item 2) a class name that disagrees with the folder's list reported
            for kind, title, text in dialogs_rec.messages:
                assert title in ("Cannot read the annotation", "Class names disagree"), (title, text)
                assert str(paths.sidecar) in text, text
        else:
            w.canvas.grab()  # the restored objects draw
        n += 1
    figures["files_fuzzed"] += n
