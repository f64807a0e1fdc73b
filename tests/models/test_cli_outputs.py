"""`--out` of every writing subcommand is checked before any work starts: `error: ...`, exit 2, no traceback."""
import importlib
import os
import subprocess
import sys

import pytest

from models.cli import OUTPUTS, SUBCOMMANDS, check_output
from models.cli import main as cli_main
from models.errors import IFCNError
from tests.reliability.hostile import bad_output_paths

#: The fewest arguments each subcommand parses with (its inputs need not exist: nothing runs).
ARGS = {
    "synth": [], "composites": ["--photos", "photos"], "pairs": ["--voc-root", "voc"],
    "train": ["--voc-root", "voc"], "noc": ["--voc-root", "voc"], "devkit": ["--annotations", "ann"],
    "export": ["--checkpoint", "best.pt"], "convert": ["--to", "coco", "--annotations", "ann"],
    "refiner-pack": ["--data", "objects"], "train-refiner": ["--pack", "pack"], "average": ["a.pt", "b.pt"],
}


@pytest.mark.parametrize("command", sorted(OUTPUTS))
def test_bad_out_refused_before_any_work(command, tmp_path, monkeypatch, capsys):
    module = importlib.import_module(SUBCOMMANDS[command][0])
    monkeypatch.setattr(module, "run", lambda args: pytest.fail(f"ifcn {command} started its work"))
    option, kind = OUTPUTS[command][0]
    for case, out in bad_output_paths(tmp_path, kind).items():
        before = sorted(p.name for p in tmp_path.iterdir())
        rc = cli_main([command, *ARGS[command], option, out])
        err = capsys.readouterr().err
        assert rc == 2, (command, case, err)
        assert err.startswith("error: ") and "Traceback" not in err, (command, case, err)
        shown = out.replace("\0", "\\x00")
        assert shown[:40] in err or out[:40] in err, (command, case, err)
        assert sorted(p.name for p in tmp_path.iterdir()) == before, (command, case)  # nothing left behind


def test_pairs_export_png_is_checked_too(tmp_path, monkeypatch, capsys):
    import training.pairs

    monkeypatch.setattr(training.pairs, "run", lambda args: pytest.fail("ifcn pairs started its work"))
    (tmp_path / "f").write_text("x")
    rc = cli_main(["pairs", "--voc-root", "voc", "--out", str(tmp_path / "p.npz"),
                   "--export-png", str(tmp_path / "f" / "png")])
    assert rc == 2 and str(tmp_path / "f") in capsys.readouterr().err


def test_good_outputs_pass_and_leave_nothing(tmp_path):
    check_output(tmp_path / "new" / "deeper" / "out.npz", "file")
    check_output(tmp_path / "new" / "run", "dir")
    check_output(tmp_path, "dir")
    (tmp_path / "exists.pt").write_bytes(b"x")
    check_output(tmp_path / "exists.pt", "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.pt"]


def test_read_only_folder(tmp_path, monkeypatch):
    """What a read-only folder does to the probe (EACCES), even when the tests run as root."""
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path))
    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(IFCNError, match="Permission denied"):
        check_output(tmp_path / "out", "dir")
    assert list(tmp_path.iterdir()) == []  # the folder made for the probe is removed again


def test_os_error_during_a_run_is_one_line(monkeypatch, capsys):
    import training.export

    def fail(args):
        raise OSError(28, "No space left on device", "/full/model.pt")
    monkeypatch.setattr(training.export, "run", fail)
    monkeypatch.setattr("models.cli.check_output", lambda *a, **k: None)
    assert cli_main(["export", "--checkpoint", "x.pt", "--out", "/full/model.pt"]) == 2
    assert capsys.readouterr().err == "error: /full/model.pt: No space left on device\n"


def test_console_script_exit_status_and_no_traceback(tmp_path):
    (tmp_path / "f").write_text("x")
    r = subprocess.run([sys.executable, "-m", "models.cli", "export", "--checkpoint", "x.pt", "--out",
                        str(tmp_path / "f" / "model.pt")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert str(tmp_path / "f") in r.stderr


def test_output_check_tolerates_another_run_making_the_same_parent(tmp_path, monkeypatch):
    """Two `ifcn noc` runs started together into runs/x/A and runs/x/B: the second one's test must not fail
    because the first made runs/x a moment earlier, nor remove the folder the first one made."""
    import pathlib

    real_mkdir = pathlib.Path.mkdir
    parent = tmp_path / "runs" / "x"

    def racing_mkdir(self, *a, **k):
        if self == parent and not parent.exists():
            os.mkdir(parent)  # the other run wins the race
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "mkdir", racing_mkdir)
    (tmp_path / "runs").mkdir()
    check_output(parent / "B", "dir")
    assert parent.is_dir()  # the other run's folder stays
    assert not (parent / "B").exists()  # ours is removed again
    assert list(parent.iterdir()) == []


def test_output_check_looks_again_when_a_parent_vanishes_meanwhile(tmp_path, monkeypatch):
    import tempfile as tf

    real = tf.mkstemp
    calls = []

    def vanishing(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory")  # the other run removed its folder
        return real(*a, **k)

    monkeypatch.setattr(tf, "mkstemp", vanishing)
    check_output(tmp_path / "a" / "b", "dir")
    assert len(calls) == 2 and not (tmp_path / "a").exists()
