"""Hostile sidecars met at start-up (issue 16: "exit 1 at start"; with "reopen last folder" a crash loop).

The other sidecar tests reach the file with Next Image or call the reader; here the folder's first image
has the hostile sidecar, so the window meets it while opening the folder, and once through the real
entry point (`python -m annotator FOLDER`) in a child process: exit status 0, no traceback, a message
naming the file, and the other image's work intact.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.reliability.hostile import deadline
from tests.reliability.killloop import make_image_folder
from tests.reliability.test_rel_sidecar import NAMES, attacks

ROOT = Path(__file__).resolve().parents[2]


def _folder_with(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """Two images; the first one's sidecar is the attack `name`."""
    sidecar = attacks(tmp_path / "attacks")[name]
    folder = make_image_folder(tmp_path / "images", n=2)
    target = folder / "annotations" / "im0.json"
    target.parent.mkdir()
    os.rename(sidecar, target)
    return folder, target


@pytest.mark.parametrize("name", NAMES)
def test_window_opening_a_folder_meets_the_hostile_sidecar_first(tmp_path, window, dialogs_rec, name, figures):
    folder, target = _folder_with(tmp_path, name)
    with deadline(20):
        w = window(folder)
    assert w.current_image_path.name == "im0.png" and w.state is not None and w.state.objects == ()
    (kind, title, text), = dialogs_rec.errors()
    assert title == "Cannot read the annotation" and str(target) in text and "Traceback" not in text
    assert w.next_image() and w.add_click(20, 20) and w.wait_for_inference(5) and w.finish_object()
    assert not w.dirty and w.prev_image(), "the window works on after the refusal"
    figures["hostile_files"] += 1


CHILD = textwrap.dedent("""
    import sys
    from annotator.widgets import dialogs
    def message(parent, kind, title, text):
        print("MESSAGE", kind, title + ":", " ".join(str(text).split()), flush=True)
    def ask(parent, title, text, choices, default):
        print("ASK", title + ":", " ".join(str(text).split()), flush=True)
        return "cancel" if "cancel" in choices else default
    dialogs.message, dialogs.ask = message, ask
    dialogs.ask_text = lambda *a, **k: None
    from annotator import app
    sys.exit(app.main(sys.argv[1:]))
""")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["five_thousand_digits", "rle_wraps_int64"])
def test_the_app_started_on_the_folder_keeps_running(tmp_path, name, figures):
    """The real entry point: it used to exit 1 (5,000 digits) or die in np.repeat (wrapping runs)."""
    folder, target = _folder_with(tmp_path, name)
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1",
               IFCN_DATA_DIR=str(tmp_path / "data"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(folder), "--settings", str(tmp_path / "s.ini"),
                           "--device", "cpu", "--quit-after", "1500"],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    shown = [line for line in proc.stdout.splitlines() if line.startswith("MESSAGE")]
    assert len(shown) == 1 and "Cannot read the annotation" in shown[0] and str(target) in shown[0], shown
    assert not list(tmp_path.rglob("errors.log")), "nothing reached the excepthook's log"
    figures["hostile_files"] += 1

