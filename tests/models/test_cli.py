import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "models.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_info_runs_and_names_device():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "device: cpu" in r.stdout or "device: cuda" in r.stdout
    assert "resnet18" in r.stdout and "torch 2.14.1" in r.stdout


def test_info_says_which_noc_is_the_annotators(tmp_path):
    """The shipped file stores NoC with f-BRS alone and as the annotator runs it; `ifcn info` names both."""
    from models.checkpoint import save_checkpoint
    from tests.models.helpers import random_model

    path = tmp_path / "m.pt"
    save_checkpoint(path, random_model(), meta={"val_iou": 0.5, "noc@85": 4.4, "noc@90": 6.66,
                                                "grabcut_noc@90": 3.21})
    r = run("info", "--models", str(path), str(tmp_path / "missing.pt"))  # a file, not only a folder to search
    assert r.returncode == 0, r.stderr
    assert f"model: {path} — resnet18 FCN-8s (val_iou 0.5, noc@85 4.4, noc@90 6.66 with f-BRS alone, 3.21 as the " \
           "annotator runs it)" in r.stdout, r.stdout
    assert f"model: {tmp_path / 'missing.pt'} — not found" in r.stdout
    r = run("info", "--models", str(tmp_path))  # a folder: the checkpoints in it
    assert f"model: {path} — resnet18" in r.stdout, r.stdout


def test_help_lists_subcommands():
    r = run("--help")
    for cmd in ("annotate", "pairs", "train", "noc", "info"):
        assert cmd in r.stdout
