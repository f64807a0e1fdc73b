"""`ifcn devkit` rebuilding an existing devkit (issue 15 item 12, second half): nothing of the previous
devkit is deleted before the new one is complete. It is built beside, then swapped in; a build that
fails half-way leaves the previous devkit exactly as it was and no half-built folder."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator import label_file
from annotator.state import AnnotationState, AnnotObject
from models import cli
from training import annotations
from training.annotations import MARKER, build_devkit

H, W = 40, 56


def _annotate(folder: Path, stem: str, seed: int) -> None:
    """An image with two finished objects, saved by the annotator's own writer."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(folder / f"{stem}.png")
    yy, xx = np.mgrid[:H, :W]
    masks = [(xx - 15) ** 2 + (yy - 15) ** 2 <= 64, (xx - 40) ** 2 + (yy - 25) ** 2 <= 49]
    st = AnnotationState((H, W))
    st.load_objects([AnnotObject(uid=0, class_index=1 + k, mask=m) for k, m in enumerate(masks)])
    label_file.save(folder, folder / f"{stem}.png", st)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Relative path -> bytes (None for a folder) of everything under `root`."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


@pytest.fixture
def annotated(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(4):
        _annotate(d, f"a{i}", seed=i)
    return d


def _fail_on_call(monkeypatch, n: int) -> None:
    """The n-th file placed into the devkit fails with a full disk."""
    real, calls = annotations._place, []

    def place(src, dst, link, summary):
        calls.append(dst)
        if len(calls) == n:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst, link, summary)
    monkeypatch.setattr(annotations, "_place", place)


@pytest.mark.parametrize("fail_at", [1, 5])
def test_failed_rebuild_keeps_the_previous_devkit(annotated, tmp_path, monkeypatch, fail_at):
    out = tmp_path / "dk"
    build_devkit(annotated, out, min_objects=0)
    before = _tree(out)
    assert "JPEGImages/a0.jpg" in before and MARKER in before
    _annotate(annotated, "a4", seed=4)   # the rebuild has more to write
    _fail_on_call(monkeypatch, fail_at)
    with pytest.raises(OSError, match="No space left"):
        build_devkit(annotated, out, min_objects=0)
    assert _tree(out) == before, "the previous devkit is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dk", "imgs"], "no half-built folder left"


def test_rebuild_replaces_the_devkit_and_keeps_the_users_other_files(annotated, tmp_path):
    out = tmp_path / "dk"
    build_devkit(annotated, out, min_objects=0)
    (out / "notes.txt").write_text("mine")
    (out / "JPEGImages" / "stale.jpg").write_bytes(b"from an older build")
    _annotate(annotated, "a4", seed=4)
    s = build_devkit(annotated, out, min_objects=0)
    assert s.images == 5 and (out / "JPEGImages" / "a4.jpg").is_file()
    assert not (out / "JPEGImages" / "stale.jpg").exists(), "the devkit's own folders are rebuilt"
    assert (out / "notes.txt").read_text() == "mine", "files the user put beside the devkit stay"
    ids = (out / "ImageSets" / "Segmentation" / "trainval.txt").read_text().split()
    assert sorted(ids) == [f"a{i}" for i in range(5)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dk", "imgs"]
    mode = os.stat(out).st_mode & 0o777
    assert mode == 0o777 & ~_umask(), f"the devkit folder has the usual permissions ({oct(mode)})"


def test_cli_failure_mid_build_is_one_line_and_keeps_the_devkit(annotated, tmp_path, monkeypatch, capsys):
    out = tmp_path / "dk"
    assert cli.main(["devkit", "--annotations", str(annotated), "--out", str(out), "--min-objects", "0"]) == 0
    before = _tree(out)
    _fail_on_call(monkeypatch, 3)
    capsys.readouterr()
    assert cli.main(["devkit", "--annotations", str(annotated), "--out", str(out), "--min-objects", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "No space left" in err and "Traceback" not in err
    assert _tree(out) == before


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
