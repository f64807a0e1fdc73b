"""training/recipes/fresh_compare.py: paired NoC split into the choice set and the objects past it."""
import csv
import runpy
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "training" / "recipes" / "fresh_compare.py"
FIELDS = ["image", "object", "area", "noc@85", "noc@90", "failed@85", "failed@90"]


def _run(root: Path, source: str, noc90: list[int], order=None) -> None:
    (root / source).mkdir(parents=True)
    keys = order or [(f"im{i // 2}", i % 2) for i in range(len(noc90))]
    with open(root / source / "per_object.csv", "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for (im, k), n in zip(keys, noc90):
            w.writerow({"image": im, "object": k, "area": 100, "noc@85": max(1, n - 1), "noc@90": n,
                        "failed@85": 0, "failed@90": int(n >= 20)})


def test_fresh_rows_are_those_past_the_first_and_paired(tmp_path):
    compare = runpy.run_path(str(RECIPE))["compare"]
    _run(tmp_path / "a", "s", [2, 4, 6, 20, 10, 10])
    _run(tmp_path / "b", "s", [2, 4, 6, 20, 7, 9])  # the same on the first 4, 2 clicks fewer past them
    lines = compare(tmp_path / "a", tmp_path / "b", ["s"], 4)
    assert "s, objects 1-4 (4): A 7.00 / 8.00 (1)  B 7.00 / 8.00 (1)  B - A +0.000" in lines[0]
    assert "s, objects 5- (2): A 9.00 / 10.00 (0)  B 7.00 / 8.00 (0)  B - A -2.000 (se 1.000)" in lines[1]
    assert lines[-1] == "fresh objects together (2): B - A -2.000 (se 1.000)"


def test_runs_of_different_objects_are_refused(tmp_path):
    compare = runpy.run_path(str(RECIPE))["compare"]
    _run(tmp_path / "a", "s", [1, 2])
    _run(tmp_path / "b", "s", [1, 2], order=[("im0", 1), ("im0", 0)])
    with pytest.raises(SystemExit, match="same objects"):
        compare(tmp_path / "a", tmp_path / "b", ["s"], 1)


def test_a_run_without_fresh_objects_says_so(tmp_path):
    compare = runpy.run_path(str(RECIPE))["compare"]
    _run(tmp_path / "a", "s", [3, 5])
    _run(tmp_path / "b", "s", [3, 4])
    lines = compare(tmp_path / "a", tmp_path / "b", ["s"], 150)
    assert "none (run with a larger --limit)" in lines[1] and lines[-1].startswith("fresh objects together (0)")
