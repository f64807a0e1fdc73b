"""Builders of hostile and broken files, and the fuzzing mutators, shared by the reliability tests.

Images and masks are built in hostile_images.py, checkpoints in hostile_checkpoints.py; their builders are
re-exported here, so `from tests.reliability.hostile import ...` reaches every one.
"""
from __future__ import annotations

import json
import random
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tests.reliability.hostile_checkpoints import (  # noqa: F401  (re-exported)
    ForgedStorage, ForgedTensor, Record, broken_checkpoint_files, deflated_zeros, forge_checkpoint,
    malformed_checkpoints, memory_checkpoints)
from tests.reliability.hostile_images import (  # noqa: F401  (re-exported)
    broken_images, encode, hostile_masks, image_bombs, png_bomb, png_chunk, png_flat)


def hostile_sidecars(shape: tuple[int, int], name: str) -> dict[str, str | bytes]:
    """Sidecar documents that must be refused with AnnotationFileError: name → text or bytes."""
    h, w = shape
    base = {"format": "ifcn-annotation", "version": 1, "image": name, "size": [w, h], "classes": [],
            "objects": [], "current": None}
    one = lambda **o: {**base, "objects": [{"instance": 1, "class": 1, "clicks": [], "strokes": [],  # noqa: E731
                                            "mask": {"rle": [h * w]}, **o}]}
    docs: dict[str, Any] = {
        "truncated.json": json.dumps(base)[:30],
        "empty.json": "",
        "not_utf8.json": b"\xff\xfe\x00garbage\x80",
        "list.json": "[]",
        "labelme.json": json.dumps({"version": "5.0", "shapes": [], "imagePath": name, "imageHeight": h,
                                    "imageWidth": w}),
        "coco.json": json.dumps({"images": [], "annotations": [], "categories": []}),
        "future_version.json": json.dumps({**base, "version": 99}),
        "wrong_size.json": json.dumps({**base, "size": [w + 1, h]}),
        "deep_nesting.json": "[" * 50_000 + "]" * 50_000,
        "huge_run.json": json.dumps(one(mask={"rle": [2 ** 70, h * w]})),
        "short_runs.json": json.dumps(one(mask={"rle": [1, 2]})),
        "nan_click.json": json.dumps(one(clicks=[[float("nan"), 1, True]])),
        "outside_click.json": json.dumps(one(clicks=[[w + 5, 1, True]])),
        "bool_class.json": json.dumps(one(**{"class": True})),
        "void_class.json": json.dumps(one(**{"class": 255})),
        "infinite_colour.json": json.dumps({**base, "classes": [{"index": 1, "name": "a",
                                                                 "color": [float("inf"), 0, 0]}]}),
        "colour_out_of_range.json": json.dumps({**base, "classes": [{"index": 1, "name": "a",
                                                                     "color": [1000, -3, 0]}]}),
        "absurd_stroke.json": json.dumps({**base, "current": {"class": 1, "clicks": [], "strokes": [
            {"points": [[1e300, 1e300]], "radius": 1e300, "erase": False}]}}),
        "too_many_objects.json": json.dumps({**base, "objects": [
            {"instance": i, "class": 1, "mask": {"rle": [h * w]}} for i in range(1, 300)]}),
    }
    return docs


# ---- fuzzing ------------------------------------------------------------------------------------
HOSTILE_VALUES: list[Any] = [None, True, False, -1, 0, 1, 254, 255, 256, 2 ** 70, -(2 ** 70), 1e308,
                             float("inf"), float("-inf"), float("nan"), -0.5, "", "x" * 300, [], {}, [[[]]],
                             [0, 0, 0], {"rle": []}, [1e300, 1e300, True]]


def mutate_bytes(data: bytes, rng: random.Random, focus: int | None = None) -> bytes:
    """A random corruption: byte flips, a truncation, a zeroed or duplicated span, or inserted junk.

    `focus`: pick positions only in the first and last `focus` bytes (a file's headers and index).
    """
    b = bytearray(data)
    n = len(b)

    def pos() -> int:
        if focus and n > 2 * focus:
            return rng.randrange(focus) if rng.random() < 0.5 else n - 1 - rng.randrange(focus)
        return rng.randrange(max(1, n))
    kind = rng.choice(("flip", "flip", "truncate", "zero", "dup", "insert"))
    if kind == "flip" or n < 4:
        for _ in range(rng.randint(1, 8)):
            if b:
                b[pos() % len(b)] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[: pos()]
    elif kind == "zero":
        i = pos()
        b[i: i + rng.randint(1, 64)] = bytes(len(b[i: i + rng.randint(1, 64)]))
    elif kind == "dup":
        i = pos()
        b[i:i] = b[i: i + rng.randint(1, 256)]
    else:
        i = pos()
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(b)


def mutate_json(doc: Any, rng: random.Random) -> Any:
    """Replace one random node of a JSON document by a hostile value (or drop a dict key)."""
    paths: list[tuple] = []

    def walk(node: Any, path: tuple) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node[:6]):
                walk(v, path + (i,))
    walk(doc, ())
    doc = json.loads(json.dumps(doc))
    path = rng.choice(paths[1:] or paths)
    if not path:
        return rng.choice(HOSTILE_VALUES)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(HOSTILE_VALUES)
    return doc


class Hang(Exception):
    """A reader took longer than its deadline."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread when the block runs longer than `seconds`."""
    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def write(folder: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Write name → content into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, content in files.items():
        p = folder / name
        p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        out.append(p)
    return out


# ---- running readers in a child process: peak memory and time ----------------------------------
#: A child whose resident memory passes this is killed at once (the machine's safety net, not the test's
#: limit: the tests assert each file's own peak, far lower).
KILL_ABOVE_MB = 4000


class Measured:
    """What a child did: exit status, output, its own peak RSS (MB), wall time, killed by the watchdog."""

    def __init__(self, rc: int, out: str, err: str, maxrss_mb: float, seconds: float, killed: str) -> None:
        self.rc, self.out, self.err, self.maxrss_mb, self.seconds, self.killed = rc, out, err, maxrss_mb, seconds, killed


def run_measured(argv: list[str], timeout: float, cwd: Path | None = None,
                 kill_above_mb: float = KILL_ABOVE_MB) -> Measured:
    """Run argv; kill it past `timeout` s or `kill_above_mb` MB resident; its peak RSS from wait4()."""
    import os
    import subprocess
    import tempfile
    import time

    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd or repo,
                                env={**os.environ, "PYTHONPATH": str(repo)})
        killed = ""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _rss_mb(proc.pid)
            if rss > kill_above_mb:
                killed = f"killed at {rss:.0f} MB resident"
            elif time.perf_counter() - t > timeout:
                killed = f"killed after {timeout} s"
            if killed:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024.0,
                        time.perf_counter() - t, killed)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def probe(jobs: list[tuple[str, Path]], timeout: float = 120) -> tuple[list[dict], Measured]:
    """Each (reader kind, file) in one child (tests/reliability/probe.py): its reports, and the child."""
    import sys

    m = run_measured([sys.executable, "-m", "tests.reliability.probe", *(f"{k}={p}" for k, p in jobs)], timeout)
    reports = [json.loads(line) for line in m.out.splitlines() if line.startswith("{")]
    return reports, m


# ---- output paths ---------------------------------------------------------------------------------
def bad_output_paths(tmp_path: Path, kind: str) -> dict[str, str]:
    """Output paths (`kind` "file" or "dir") that cannot be written, even by root: case -> path."""
    import os

    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir(exist_ok=True)
    cases = {
        "under_a_file": str(a_file / "sub" / ("out.npz" if kind == "file" else "out")),
        "name_too_long": str(tmp_path / ("x" * 300) / "out"),
        "nul_byte": str(tmp_path / "a\0b"),
        "a_folder" if kind == "file" else "a_file": str(a_dir if kind == "file" else a_file),
    }
    try:  # sysfs refuses new entries to everyone
        os.mkdir("/sys/ifcn-write-probe")
        os.rmdir("/sys/ifcn-write-probe")
    except OSError:
        cases["unwritable"] = "/sys/ifcn-test/out"
    return cases


def hostile_class_files() -> dict[str, dict[str, str | bytes]]:
    """Class lists that must be refused with ClassListError naming the file: kind ("classes.json" or
    "labels.txt") → case name → content (FIFOs and device links are made by the test)."""
    row = lambda **c: {"index": 1, "name": "a", "color": [1, 2, 3], **c}  # noqa: E731
    doc = lambda *rows, **top: json.dumps({"format": "ifcn-classes", "version": 1,  # noqa: E731
                                           "classes": list(rows), **top})
    return {
        "classes.json": {
            "truncated": doc(row())[:25], "empty": "", "not_utf8": b"\xff\xfe\x00{\x80",
            "list": "[]", "other_format": json.dumps({"format": "ifcn-annotation", "version": 1}),
            "future_version": doc(row(), version=7), "classes_not_list": doc(classes={"1": "a"}),
            "index_zero": doc(row(index=0)), "index_void": doc(row(index=255)), "index_big": doc(row(index=2 ** 70)),
            "index_bool": doc(row(index=True)), "index_float": doc(row(index=1.5)),
            "index_twice": doc(row(), row(name="b")), "name_twice": doc(row(), row(index=2)),
            "name_empty": doc(row(name="  ")), "name_control": doc(row(name="a\u0000b")),
            "name_huge": doc(row(name="x" * 100_000)), "name_ignore": doc(row(name="__ignore__")),
            "name_not_text": doc(row(name=["a"])), "colour_range": doc(row(color=[1000, -3, 0])),
            "colour_inf": doc(row(color=[float("inf"), 0, 0])), "colour_short": doc(row(color=[1, 2])),
            "colour_bool": doc(row(color=[True, 0, 0])),
            "too_many": doc(*[row(index=i % 254 + 1, name=f"c{i}") for i in range(300)]),
            "previous_not_list": doc(row(previous_names="a")),
            "previous_many": doc(row(previous_names=[f"p{i}" for i in range(100)])),
            "deep_nesting": "[" * 50_000 + "]" * 50_000,
            "two_megabytes": doc(row()) + " " * (2 << 20),
        },
        "labels.txt": {
            "twice": "cat\ndog\ncat\n", "control": "cat\nbad\u0007\n", "huge_name": "y" * 5000 + "\n",
            "too_many": "".join(f"c{i}\n" for i in range(400)), "binary": b"\xff\xfe\x00\x81garbage",
            "two_megabytes": "cat\n" * (600 << 10),
        },
    }
