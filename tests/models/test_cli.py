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


def test_help_lists_subcommands():
    r = run("--help")
    for cmd in ("annotate", "pairs", "train", "noc", "info"):
        assert cmd in r.stdout
