"""An unexpected error while the app opens its folder at start-up (issue 16: "exit 1 at start"; with
"reopen last folder" a crash loop): shown, logged, survived, like an error in any Qt slot."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.reliability.killloop import make_image_folder
from tests.reliability.test_rel_app_start import CHILD

ROOT = Path(__file__).resolve().parents[2]

BUG_AT_START = textwrap.dedent("""
    from annotator import label_file
    def load(*a, **k):  # an unforeseen bug met while the folder opens (as the 5,000 digits once were)
        raise RuntimeError("a bug met while opening the folder")
    label_file.load = load
""")


@pytest.mark.slow
def test_an_unexpected_error_while_the_folder_opens_is_shown_logged_and_survived(tmp_path):
    folder = make_image_folder(tmp_path / "images", n=2)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1",
               IFCN_DATA_DIR=str(tmp_path / "data"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-c", BUG_AT_START + CHILD, str(folder), "--settings",
                           str(tmp_path / "s.ini"), "--device", "cpu", "--quit-after", "1500"],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])  # (the hook echoes to the terminal)
    shown = [line for line in proc.stdout.splitlines() if line.startswith("MESSAGE error")]
    assert shown and "a bug met while opening the folder" in shown[0], proc.stdout[-2000:]
    (log,) = tmp_path.rglob("errors.log")
    assert "RuntimeError: a bug met while opening the folder" in log.read_text()
