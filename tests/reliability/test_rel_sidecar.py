"""Sidecar attacks (issue 16): each is refused with a message naming the file, in bounded time and memory,
and the annotator stays up."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotator import label_file
from models.errors import AnnotationFileError
from tests.reliability.hostile import deadline
from tests.reliability.killloop import make_image_folder

ROOT = Path(__file__).resolve().parents[2]
SHAPE = (40, 56)
#: Peak resident memory (MB) the reads of all hostile sidecars may add to the child's imports (numpy, cv2,
#: PIL: about 70 MB). Reading /dev/zero unbounded went past 2.6 GB before the fix.
RSS_LIMIT_MB = 100


def base_doc(**kw):
    h, w = SHAPE
    return {"format": "ifcn-annotation", "version": 1, "image": "im0.png", "size": [w, h], "classes": [],
            "objects": [], "current": None, **kw}


def wrapping_runs():
    """Run lengths each under 2**63 whose int64 sum wraps round to exactly H*W."""
    h, w = SHAPE
    return [2 ** 62, 2 ** 62, 2 ** 62, 2 ** 62, h * w]


def attacks(folder: Path) -> dict[str, Path]:
    """name -> a hostile annotations/im0.json (each in its own output folder under `folder`)."""
    h, w = SHAPE
    one = lambda runs: json.dumps(base_doc(objects=[{"instance": 1, "class": 1, "mask": {"rle": runs}}]))  # noqa: E731
    docs = {
        "rle_wraps_int64": one(wrapping_runs()),
        "rle_negative_wrap": one([2 ** 63 - 1, 2, h * w - 1]),
        "rle_floats": one([0.5, h * w - 0.5]),
        "rle_strings": one(["0", str(h * w)]),
        "five_thousand_digits": '{"format": "ifcn-annotation", "version": 1, "size": [' + "9" * 5000 + ", 40]}",
        "digits_in_rle": one([0]).replace("[0]", "[" + "7" * 5000 + "]"),
    }
    out = {}
    for name, text in docs.items():
        p = folder / name / "annotations" / "im0.json"
        p.parent.mkdir(parents=True)
        p.write_text(text)
        out[name] = p
    p = folder / "fifo" / "annotations" / "im0.json"
    p.parent.mkdir(parents=True)
    os.mkfifo(p)
    out["fifo"] = p
    p = folder / "dev_zero" / "annotations" / "im0.json"
    p.parent.mkdir(parents=True)
    p.symlink_to("/dev/zero")
    out["dev_zero"] = p
    p = folder / "oversized" / "annotations" / "im0.json"
    p.parent.mkdir(parents=True)
    with open(p, "wb") as f:  # sparse: 65 MB of nothing
        f.truncate(getattr(label_file, "MAX_SIDECAR_BYTES", 64 * 2**20) + 2**20)
    out["oversized"] = p
    p = folder / "folder" / "annotations" / "im0.json"
    p.mkdir(parents=True)
    out["folder"] = p
    return out


CHILD = textwrap.dedent("""
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # a runaway read fails, not the machine
    from annotator import label_file
    from models.errors import AnnotationFileError

    def peak_mb():  # VmHWM: this program's peak resident memory (ru_maxrss would carry the parent's)
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
        return int(hwm.split()[1]) / 1024

    print(json.dumps({"name": "(imports)", "maxrss_mb": peak_mb()}), flush=True)
    for name, out in zip(sys.argv[1::2], sys.argv[2::2]):
        t0 = time.perf_counter()
        try:
            label_file.load(out, out + "/im0.png", (40, 56))
            result = {"outcome": "accepted"}
        except AnnotationFileError as e:
            result = {"outcome": "refused", "message": str(e)}
        except BaseException as e:
            result = {"outcome": "crash", "message": f"{type(e).__name__}: {e}"[:300]}
        result.update(name=name, seconds=time.perf_counter() - t0, maxrss_mb=peak_mb())
        print(json.dumps(result), flush=True)
""")
NAMES = ["rle_wraps_int64", "rle_negative_wrap", "rle_floats", "rle_strings", "five_thousand_digits",
         "digits_in_rle", "fifo", "dev_zero", "oversized", "folder"]


def test_hostile_sidecars_are_refused_in_a_child_within_time_and_memory(tmp_path, figures):
    """All attacks in one child process (one start-up): each refused naming the file, in under 5 s, and the
    child's peak memory stays under RSS_LIMIT_MB above what its imports take."""
    files = attacks(tmp_path)
    argv = [a for name in NAMES for a in (name, str(files[name].parents[1]))]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, *argv], cwd=str(ROOT), env=env,
                              capture_output=True, text=True, timeout=120)
        out, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"
    results = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    done = {r["name"] for r in results}
    hung = next((n for n in NAMES if n not in done), None)
    assert rc == 0 and hung is None, f"the reader died or hung (exit {rc}) at {hung!r}"
    base = results[0]["maxrss_mb"]
    for r in results[1:]:
        name, sidecar = r["name"], files[r["name"]]
        assert r["outcome"] == "refused", r
        assert str(sidecar) in r["message"] and "Traceback" not in r["message"], r
        assert r["seconds"] < 5, r
        assert r["maxrss_mb"] - base < RSS_LIMIT_MB, (r, base)
    figures["hostile_files"] += len(NAMES)


def test_wrapping_runs_refused_before_np_repeat(monkeypatch):
    import numpy as np

    def repeat(*a, **k):
        raise AssertionError("np.repeat reached with run lengths that wrap")
    monkeypatch.setattr(np, "repeat", repeat)
    with pytest.raises(ValueError, match="run lengths"):
        label_file.rle_decode(wrapping_runs(), SHAPE)


@pytest.mark.parametrize("name", ["five_thousand_digits", "fifo", "oversized", "rle_floats"])
def test_window_survives_a_hostile_sidecar_on_next_image(tmp_path, window, dialogs_rec, name):
    """Reaching the image with Next Image: a message naming the file, the window and its work kept."""
    sidecar = attacks(tmp_path / "attacks")[name]
    folder = make_image_folder(tmp_path / "images", n=2)
    target = folder / "annotations" / "im1.json"
    target.parent.mkdir()
    os.rename(sidecar, target)
    w = window(folder)
    assert w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object()
    with deadline(20):
        assert w.next_image()
    assert w.current_image_path.name == "im1.jpg" and w.state.objects == ()
    (kind, title, text), = dialogs_rec.errors()
    assert title == "Cannot read the annotation" and str(target) in text
    assert w.prev_image() and len(w.state.objects) == 1, "the other image's work is intact"


def test_writer_never_writes_a_sidecar_the_reader_refuses(tmp_path, monkeypatch):
    from tests.reliability.test_rel_names import one_object_state

    monkeypatch.setattr(label_file, "MAX_SIDECAR_BYTES", 100)
    with pytest.raises(AnnotationFileError, match="too large"):
        label_file.save(tmp_path, tmp_path / "a.png", one_object_state())
    assert not (tmp_path / "annotations" / "a.json").exists()
