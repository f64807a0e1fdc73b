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


def _start(devkit, run, *extra, faults=()):
    cmd = [sys.executable, str(HERE / "faulty_train.py"), *faults, "--", *_args(devkit, run, *extra)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p):
    out, err = p.communicate(timeout=300)
    return p.returncode, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def _resume_in_process(devkit, run, max_steps, capsys):
    """`ifcn train --resume` through the CLI entry point, in this process (no third interpreter start-up)."""
    import torch

    capsys.readouterr()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # like the children (OMP_NUM_THREADS=1): far faster on a loaded 2-core box
    try:
        rc = cli_main(["train", *_args(devkit, run, "--max-steps", str(max_steps), "--resume")])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, [json.loads(line) for line in out.out.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_training_killed_mid_write_and_mid_epoch_resumes(synthetic_devkit, tmp_path, figures, capsys):
    # Both runs start together (interpreter start-up dominates). The fixture gives 4 steps per epoch;
    # last.pt is written after each epoch (steps 4, 8, ...).
    mid_write, mid_epoch = tmp_path / "mid_write", tmp_path / "mid_epoch"
    pa = _start(synthetic_devkit, mid_write, "--max-steps", "40", faults=["--die-in-write", "2"])
    pb = _start(synthetic_devkit, mid_epoch, "--max-steps", "40", faults=["--die-at-step", "6"])
    (rc_a, ev_a, err_a), (rc_b, ev_b, err_b) = _finish(pa), _finish(pb)
    assert rc_a == -signal.SIGKILL, err_a[-2000:]
    assert rc_b == -signal.SIGKILL, err_b[-2000:]
    s = next(e for e in ev_a if e["event"] == "start")["steps_per_epoch"]
    assert s == 4, "the fixture changed: adapt the kill points"

    # killed while writing step 8's last.pt: the half-written temp file never replaced step 4's
    assert [e["step"] for e in ev_a if e["event"] == "checkpoint"] == [4]
    assert max(e["step"] for e in ev_a if e["event"] == "step") == 8
    temps = [f for f in os.listdir(mid_write) if f.startswith(".last.pt.") and f.endswith(".tmp")]
    assert len(temps) == 1, "the half-written temp file is left behind, never renamed"
    assert (mid_write / temps[0]).stat().st_size < (mid_write / "last.pt").stat().st_size
    ck = load_checkpoint(mid_write / "last.pt")
    assert ck.extra["step"] == 4 and ck.extra["epoch"] == 1 and ck.extra["batch_in_epoch"] == 0

    # killed before step 6, mid-epoch: last.pt is step 4's
    assert [e["step"] for e in ev_b if e["event"] == "step"] == [1, 2, 3, 4, 5]
    assert load_checkpoint(mid_epoch / "last.pt").extra["step"] == 4

    # --resume continues both from step 4
    for run in (mid_write, mid_epoch):
        rc, ev = _resume_in_process(synthetic_devkit, run, 6, capsys)
        assert rc == 0
        start = next(e for e in ev if e["event"] == "start")
        assert start["step"] == 4 and start["resumed"] is True
        assert [e["step"] for e in ev if e["event"] == "step"] == [5, 6]
        assert ev[-1]["event"] == "end" and ev[-1]["status"] == "completed"
        assert load_checkpoint(run / "last.pt").extra["step"] == 6 and (run / "best.pt").is_file()
    figures["train_kills"] += 2


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_stops_gracefully(synthetic_devkit, tmp_path):
    """A SIGTERM to the process group (terminal, `kill -- -PGID`) reaches the data workers too: they
    must not die of it, and the run saves last.pt and exits "stopped" (130), ready for --resume."""
    run = tmp_path / "group"
    cmd = [sys.executable, "-m", "models.cli", "train", *_args(synthetic_devkit, run, "--max-steps", "400")]
    cmd[cmd.index("--workers") + 1] = "1"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    p = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    events = []
    try:
        for line in p.stdout:  # wait until a few steps ran (the worker is up)
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "step" and events[-1]["step"] >= 3:
                    break
        os.killpg(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    events += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert p.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert events[-1]["event"] == "end" and events[-1]["status"] == "stopped"
    last_step = max(e["step"] for e in events if e["event"] == "step")
    assert load_checkpoint(run / "last.pt").extra["step"] == last_step
