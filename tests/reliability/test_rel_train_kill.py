"""`ifcn train` killed with SIGKILL mid-epoch and mid-checkpoint-write: last.pt stays loadable, --resume goes on."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from models.checkpoint import load_checkpoint
from models.cli import main as cli_main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _args(devkit, run, *extra):
    return ["--voc-root", str(devkit), "--out", str(run), "--backbone", "efficientnet_lite0", "--weights", "none",
            "--crop-size", "64", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--no-bar",
            "--progress-json", "--val-split", "none", "--epochs", "100", "--seed", "0", *extra]


def _train(devkit, run, *extra, faults=()):
    cmd = [sys.executable, str(HERE / "faulty_train.py"), *faults, "--", *_args(devkit, run, *extra)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    p = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=300)
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return p, events


@pytest.mark.slow
def test_training_killed_mid_write_and_mid_epoch_resumes(synthetic_devkit, tmp_path, figures, capsys):
    run = tmp_path / "run"
    p, ev = _train(synthetic_devkit, run, "--max-steps", "40", faults=["--die-in-write", "2"])
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    s = next(e for e in ev if e["event"] == "start")["steps_per_epoch"]
    assert s >= 3, "the fixture needs a few steps per epoch"
    # last.pt is written after each epoch: at step s, then it died while writing step 2s's
    assert [e["step"] for e in ev if e["event"] == "checkpoint"] == [s]
    assert max(e["step"] for e in ev if e["event"] == "step") == 2 * s
    temps = [f for f in os.listdir(run) if f.startswith(".last.pt.") and f.endswith(".tmp")]
    assert len(temps) == 1, "the half-written temp file is left behind, never renamed"
    assert (run / temps[0]).stat().st_size < (run / "last.pt").stat().st_size
    ck = load_checkpoint(run / "last.pt")
    assert ck.extra["step"] == s and ck.extra["epoch"] == 1 and ck.extra["batch_in_epoch"] == 0

    # resumed from step s, killed before step s + 2 (mid-epoch): last.pt is untouched
    before = (run / "last.pt").read_bytes()
    p, ev = _train(synthetic_devkit, run, "--max-steps", "40", "--resume", faults=["--die-at-step", str(s + 2)])
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    start = next(e for e in ev if e["event"] == "start")
    assert start["step"] == s and start["resumed"] is True
    assert [e["step"] for e in ev if e["event"] == "step"] == [s + 1]
    assert (run / "last.pt").read_bytes() == before
    assert load_checkpoint(run / "last.pt").extra["step"] == s

    # resumed again (the same CLI entry point, in this process: no third interpreter start-up)
    capsys.readouterr()
    assert cli_main(["train", *_args(synthetic_devkit, run, "--max-steps", str(s + 2), "--resume")]) == 0
    out = capsys.readouterr()
    ev = [json.loads(line) for line in out.out.splitlines() if line.startswith("{")]
    assert "Traceback" not in out.err
    assert [e["step"] for e in ev if e["event"] == "step"] == [s + 1, s + 2]
    assert ev[-1]["event"] == "end" and ev[-1]["status"] == "completed"
    done = load_checkpoint(run / "last.pt")
    assert done.extra["step"] == s + 2 and (run / "best.pt").is_file()
    figures["train_kills"] += 2
