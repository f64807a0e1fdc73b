"""Kill -9 loop around the annotator driver, and the on-disk check after each kill.

Shared by tests/reliability/test_rel_kill.py (a few dozen kills) and benchmarks/soak_reliability.py
(hundreds). Everything is checked through the project's own readers: `annotator.label_file.load` for
the sidecar + PNGs, `models.fileio.read_index_png` for every mask file.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from annotator import label_file
from annotator.state import compose
from models.errors import IFCNError
from models.fileio import list_images, read_image, read_index_png
from tests.reliability.driver import label_digest  # the digest the driver prints

DRIVER = Path(__file__).resolve().with_name("driver.py")
ROOT = DRIVER.parents[2]


def make_image_folder(folder: Path, n: int = 4, size: tuple[int, int] = (40, 56), seed: int = 0) -> Path:
    """A folder of `n` small noisy PNG/JPEG images to annotate."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / (f"im{i}.png" if i % 2 == 0 else f"im{i}.jpg"))
    return folder


class Driver:
    """One driver process: its stdout lines are collected by a thread as they arrive."""

    def __init__(self, folder: Path, seed: int, cycles: int = 0, write_delay: float = 0.0,
                 visit_all: bool = False) -> None:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        cmd = [sys.executable, str(DRIVER), str(folder), "--seed", str(seed), "--cycles", str(cycles),
               "--write-delay", str(write_delay)] + (["--visit-all"] if visit_all else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=str(ROOT), env=env)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._err: list[str] = []
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=lambda: self._err.extend(self.proc.stderr), daemon=True)]
        for t in self._threads:
            t.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                self.ready.set()

    def kill(self) -> None:
        """SIGKILL (kill -9) and reap."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.join()

    def join(self, timeout: float = 30) -> None:
        """Wait for the output readers to drain."""
        for t in self._threads:
            t.join(timeout)

    @property
    def stderr(self) -> str:
        """What the process wrote on stderr."""
        return "".join(self._err)


@dataclass
class Ledger:
    """What the driver confirmed: per image stem, the last reported (object count, digest)."""

    saved: dict[str, tuple[int, str]] = field(default_factory=dict)
    saves: int = 0
    opened: int = 0
    problems: list[str] = field(default_factory=list)

    def feed(self, lines: list[str]) -> None:
        """Take in a run's lines, in order; an OPENED with fewer objects than confirmed is a loss."""
        for line in lines:
            parts = line.split()
            if parts[:1] == ["SAVED"]:
                stem, n, digest = parts[1], int(parts[2]), parts[3]
                prev = self.saved.get(stem, (0, ""))[0]
                if n < prev:
                    self.problems.append(f"{stem}: saved {n} objects after {prev} were confirmed")
                self.saved[stem] = (n, digest)
                self.saves += 1
            elif parts[:1] == ["OPENED"]:
                stem, n = parts[1], int(parts[2])
                self.opened += 1
                if n < self.saved.get(stem, (0, ""))[0]:
                    self.problems.append(f"{stem}: reopened with {n} objects, {self.saved[stem][0]} were saved")
            elif parts[:2] == ["MESSAGE", "error"] or parts[:2] == ["MESSAGE", "ask"]:
                self.problems.append(f"unexpected dialog: {line}")

    @property
    def objects_confirmed(self) -> int:
        """Objects confirmed saved, summed over images."""
        return sum(n for n, _ in self.saved.values())


@dataclass
class DiskCheck:
    """Result of one look at the output folder."""

    files_parsed: int = 0
    temp_files: int = 0
    lost: int = 0
    inconsistent: int = 0
    stale_pngs: int = 0
    problems: list[str] = field(default_factory=list)


def _holds(png: np.ndarray, labels: np.ndarray) -> bool:
    """The PNG holds these labels, where it is not 255: the unfinished object of that save, written as void
    where no finished object lies (issue 15), and which the sidecar may no longer describe."""
    void = png == label_file.VOID
    return np.array_equal(png[~void], labels[~void]) and not labels[void].any()


def check_disk(folder: Path, ledger: Ledger, final: bool = False) -> DiskCheck:
    """Every output file parses, no temp file stands in for an output, every confirmed object is intact.

    `final`: after a clean close every image's PNGs must also agree with its sidecar exactly.
    """
    res = DiskCheck()
    for sub in (label_file.CLASS_DIR, label_file.OBJECT_DIR, label_file.SIDECAR_DIR):
        d = folder / sub
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.name.startswith("."):
                if not p.name.endswith(".tmp"):
                    res.problems.append(f"unexpected hidden file {p}")
                res.temp_files += 1  # an atomic write cut short: never read as an output
                continue
            try:
                if p.suffix == ".png":
                    read_index_png(p)
                elif p.suffix == ".json":
                    json.loads(p.read_text(encoding="utf-8"))
                else:
                    res.problems.append(f"unexpected file {p}")
                    continue
                res.files_parsed += 1
            except (IFCNError, ValueError) as e:
                res.problems.append(f"half-written output {p}: {e}")
    for img in list_images(folder):
        stem = img.stem
        n, digest = ledger.saved.get(stem, (0, None))
        shape = read_image(img).shape[:2]
        try:
            loaded = label_file.load(folder, img, shape)
        except IFCNError as e:
            res.problems.append(f"{stem}: the annotation does not load: {e}")
            res.lost += n
            continue
        if digest is None:
            continue
        objs = loaded.objects if loaded is not None else []
        if len(objs) < n:
            res.lost += n - len(objs)
            res.problems.append(f"{stem}: {n} objects confirmed saved, {len(objs)} on disk")
            continue
        cls_n, inst_n = compose(objs[:n], shape)
        if label_digest(cls_n, inst_n) != digest:
            res.lost += n
            res.problems.append(f"{stem}: the confirmed objects changed on disk")
            continue
        # Objects only grow in the driver's sessions, so a save cut short by a kill leaves each PNG at
        # some earlier save: the composition of a prefix of the sidecar's objects, at least the confirmed one.
        paths = label_file.paths_for(folder, img)
        prefixes = [compose(objs[:k], shape) for k in range(n, len(objs) + 1)]
        exact = label_file.png_maps(objs, loaded.void, loaded.current.mask if loaded.current is not None else None,
                                    shape)  # what a save of this sidecar writes
        for png, which in ((paths.class_png, 0), (paths.object_png, 1)):
            if not png.exists():
                # Only an unfinished object: no VOC masks are written (issue 15 item 3). So a save of the
                # first finished object cut short between the sidecar and the PNGs leaves none yet: stale,
                # like a PNG of an earlier save. Once a save with a finished object is confirmed, the PNGs
                # are only ever replaced atomically, so a missing one is a fault.
                if n > 0 or (not objs and loaded.current is None):
                    res.inconsistent += 1
                    res.problems.append(f"{png}: missing ({len(objs)} objects in the sidecar, {n} confirmed)")
                elif objs:
                    res.stale_pngs += 1
                continue
            arr = read_index_png(png)
            match = [k for k, maps in enumerate(prefixes) if _holds(arr, maps[which])]
            if not match or (final and not np.array_equal(arr, exact[which])):
                res.inconsistent += 1
                res.problems.append(f"{png}: matches no save of the sidecar's objects "
                                    f"({n} confirmed, {len(objs)} in the sidecar)")
            elif match[-1] != len(prefixes) - 1:
                res.stale_pngs += 1
    return res


@dataclass
class LoopSummary:
    """Figures of a kill loop."""

    kills: int = 0
    saves_confirmed: int = 0
    objects_confirmed: int = 0
    files_parsed: int = 0
    temp_files_seen: int = 0  # leftovers of atomic writes cut short by a kill (hidden *.tmp)
    kills_mid_save: int = 0   # kills that left the PNGs older than the sidecar (repaired by the next run)
    lost: int = 0
    problems: list[str] = field(default_factory=list)


def kill_loop(folder: Path, kills: int, seed: int = 0, delay: tuple[float, float] = (0.05, 0.9),
              final_cycles: int = 4, write_delay: float = 0.02, log=None) -> LoopSummary:
    """Start the driver, SIGKILL it after a random delay, check the disk; `kills` times, then a clean run
    that opens every image (repairing PNGs a kill left older than their sidecar) and closes the window.

    `write_delay` makes every atomic rename of the driver wait, so many kills land in the middle of a save.
    """
    rng = random.Random(seed)
    ledger = Ledger()
    out = LoopSummary()
    for k in range(kills):
        d = Driver(folder, seed=seed * 100_003 + k, write_delay=write_delay)
        if not d.ready.wait(60):
            d.kill()
            raise RuntimeError(f"driver did not start:\n{d.stderr[-3000:]}")
        time.sleep(rng.uniform(*delay))
        d.kill()
        ledger.feed(d.lines)
        chk = check_disk(folder, ledger)
        out.kills += 1
        out.files_parsed += chk.files_parsed
        out.kills_mid_save += bool(chk.stale_pngs) or chk.temp_files > out.temp_files_seen
        out.temp_files_seen = chk.temp_files
        out.lost += chk.lost
        out.problems += [f"kill {k}: {p}" for p in chk.problems]
        if log is not None:
            log(f"kill {k + 1}/{kills}: {ledger.saves} saves confirmed, {ledger.objects_confirmed} objects, "
                f"lost {out.lost}")
    d = Driver(folder, seed=seed * 100_003 + kills, cycles=final_cycles, visit_all=True)
    rc = d.proc.wait(120)
    d.join()
    ledger.feed(d.lines)
    if rc != 0 or "DONE" not in d.lines:
        out.problems.append(f"clean run ended with {rc}: {d.stderr[-2000:]}")
    chk = check_disk(folder, ledger, final=True)
    out.files_parsed += chk.files_parsed
    out.lost += chk.lost
    out.problems += [f"final: {p}" for p in chk.problems] + ledger.problems
    out.saves_confirmed = ledger.saves
    out.objects_confirmed = ledger.objects_confirmed
    return out
