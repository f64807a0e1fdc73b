"""End to end through the `ifcn` command: synth → pairs → train → noc; Ctrl+C; bad input."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from models.backbones import BACKBONES
from models.checkpoint import load_checkpoint
from training.progress import parse_line

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def ifcn(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "models.cli", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


BACKBONE = "efficientnet_lite0" if "efficientnet_lite0" in BACKBONES else "resnet18"
TINY = ["--backbone", BACKBONE, "--weights", "none", "--batch-size", "2", "--crop-size", "64",
        "--workers", "0", "--device", "cpu", "--no-bar"]


@pytest.mark.slow
def test_synth_pairs_train_noc(tmp_path):
    r = ifcn("synth", "--out", tmp_path / "d", "--images", "6", "--height", "96", "--width", "128")
    assert r.returncode == 0, r.stderr
    voc = tmp_path / "d" / "VOCdevkit"
    r = ifcn("pairs", "--voc-root", voc, "--split", "train", "--out", tmp_path / "train.npz",
             "--pairs-per-object", "2", "--workers", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    run = tmp_path / "run"
    r = ifcn("train", "--voc-root", voc, "--out", run, "--pairs", tmp_path / "train.npz", "--mode", "pairs",
             "--max-steps", "2", "--val-limit", "2", "--progress-json", *TINY)
    assert r.returncode == 0, r.stderr
    events = [parse_line(line) for line in r.stdout.splitlines()]
    assert events and all(e is not None for e in events), r.stdout  # stdout is pure JSON lines
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed"
    best = load_checkpoint(run / "best.pt")
    assert best.meta["training"]["mode"] == "pairs" and best.meta["steps"] == 2
    assert (run / "last.pt").is_file()

    out = tmp_path / "noc"
    r = ifcn("noc", "--voc-root", voc, "--split", "val", "--out", out, "--checkpoint", run / "best.pt",
             "--max-clicks", "3", "--limit", "3", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "NoC@85" in r.stdout and "NoC@90" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objects"] == 3 and 1 <= summary["noc@85"] <= 3
    assert len(summary["miou_per_click"]) == 3 and summary["refine"] is False
    assert summary["zoom_in"] == 400  # the annotator's default: zoom-in on the object from the second click
    assert summary["max_size"] == 1024 and summary["net_size"] == 512  # the annotator's working and network sizes
    assert len(list(csv.DictReader((out / "per_object.csv").open()))) == 3
    assert cv2.imread(str(out / "miou_vs_clicks.png")) is not None

    r = ifcn("noc", "--voc-root", voc, "--split", "val", "--out", tmp_path / "nozoom", "--checkpoint",
             run / "best.pt", "--max-clicks", "3", "--limit", "3", "--device", "cpu", "--zoom-in", "320", "--no-brs",
             "--no-snap", "--refine", "--refine-method", "grabcut", "--max-size", "256", "--net-size", "0")
    assert r.returncode == 0, r.stderr
    plain = json.loads((tmp_path / "nozoom" / "summary.json").read_text())
    assert plain["zoom_in"] == 320 and plain["brs"] is False and summary["brs"] is True
    assert plain["max_size"] == 256 and plain["net_size"] is None  # 0: the network sees the working image
    assert plain["snap"] is False and summary["snap"] is True
    assert plain["full_res"] is False and summary["full_res"] is True  # the snap at the photo's resolution
    assert plain["refine"] is True and plain["refine_method"] == "grabcut" and plain["label"].endswith("+ GrabCut")
    assert summary["refine_method"] is None  # not refined
    r = ifcn("noc", "--voc-root", voc, "--split", "val", "--out", tmp_path / "bad", "--checkpoint",
             run / "best.pt", "--limit", "1", "--zoom-in", "3")
    assert r.returncode == 2 and "--zoom-in 3" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_noc_on_folder_with_grabcut_skips_bad_image(synthetic_devkit, tmp_path):
    base = synthetic_devkit / "VOC2012"
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for stem in ("synth_00004", "synth_00005"):
        shutil.copy(base / "JPEGImages" / f"{stem}.jpg", images)
        shutil.copy(base / "SegmentationObject" / f"{stem}.png", masks)
    (images / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    shutil.copy(base / "SegmentationObject" / "synth_00004.png", masks / "broken.png")
    out = tmp_path / "noc"
    r = ifcn("noc", "--images", images, "--masks", masks, "--out", out, "--checkpoint", "grabcut",
             "--max-clicks", "2", "--progress-json")
    assert r.returncode == 0, r.stderr
    events = [parse_line(line) for line in r.stdout.splitlines()]
    assert all(e is not None for e in events)
    assert any(e["event"] == "skipped" and e["image"] == "broken" for e in events)
    assert any(e["event"] == "object" for e in events)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_images"] == 1 and "broken.jpg" in summary["skipped"][0]["message"]
    assert summary["objects"] > 0 and "GrabCut" in summary["model"]


def test_missing_devkit_is_a_clear_error(tmp_path):
    for cmd in (["train", "--voc-root", tmp_path / "nope", "--out", tmp_path / "run", *TINY],
                ["noc", "--voc-root", tmp_path / "nope", "--out", tmp_path / "noc"]):
        r = ifcn(*cmd)
        assert r.returncode == 2
        assert "error:" in r.stderr and "nope" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_during_training_leaves_resumable_last_pt(synthetic_devkit, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "models.cli", "train", "--voc-root", str(synthetic_devkit), "--out", str(run),
         "--max-steps", "10000", "--val-split", "none", "--progress-json", *TINY],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            ev = parse_line(line)
            if ev and ev["event"] == "step":
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = [parse_line(x) for x in lines + out.splitlines()]
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert events[-1]["event"] == "end" and events[-1]["status"] == "stopped"
    loaded = load_checkpoint(run / "last.pt")
    steps = loaded.extra["step"]
    assert 1 <= steps == events[-1]["steps"] and "optimizer" in loaded.extra and "rng" in loaded.extra
