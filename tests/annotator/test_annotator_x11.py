"""Run the real app once on an X server (Xvfb, QT_QPA_PLATFORM=xcb) and check it draws a window."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.gui_x11
ROOT = Path(__file__).resolve().parents[2]


def _free_display() -> int:
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    pytest.skip("no free X display number")


@pytest.fixture
def xvfb():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    n = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip("Xvfb did not start")
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    proc.wait(5)


def test_app_runs_under_xvfb_with_xcb(xvfb, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    a = np.full((120, 160, 3), 50, np.uint8)
    a[30:90, 40:120] = (220, 120, 40)
    Image.fromarray(a).save(folder / "one.png")
    shot = tmp_path / "shot.png"
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "annotator", str(folder), "--settings", str(tmp_path / "s.ini"),
                        "--screenshot", str(shot), "--quit-after", "300"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] > 300 and img.shape[1] > 500
    assert img.std() > 10, "the window drew something"
    assert (tmp_path / "s.ini").exists(), "settings were persisted"
