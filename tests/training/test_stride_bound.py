"""training/recipes/stride_bound.py: the ideal output-grid IoU of an object falls with the stride, and its table."""
import csv
import runpy
from pathlib import Path

import cv2
import numpy as np

RECIPE = Path(__file__).resolve().parents[2] / "training" / "recipes" / "stride_bound.py"


def test_bound_falls_with_the_stride_for_thin_objects_and_ignores_128(tmp_path, capsys):
    bound = runpy.run_path(str(RECIPE))["bound"]
    big = np.zeros((300, 300), np.uint8)
    big[50:250, 60:240] = 255
    thin = np.zeros((300, 300), np.uint8)
    thin[100:200, 151:155] = 255  # a 4-px wire, off the grid: an 8-px output grid (stride 8 at 2x) blurs it
    thin[100:200, 140:151] = 128
    assert bound(big, 8) > 0.97 and bound(big, 2) > 0.99
    assert bound(thin, 8) < bound(thin, 4) < bound(thin, 2)
    masks = tmp_path / "masks"
    masks.mkdir()
    cv2.imwrite(str(masks / "a_0.png"), big)
    cv2.imwrite(str(masks / "b_0.png"), thin)
    table = tmp_path / "per_object.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "object", "area", "failed@90"])
        w.writerow(["a", 0, int((big == 255).sum()), 0])
        w.writerow(["b", 0, int((thin == 255).sum()), 1])
    main = runpy.run_path(str(RECIPE))["main"]
    main([str(masks), str(table)])
    out = capsys.readouterr().out
    assert "large (1)" in out and "small (1)" in out and "| 1 |" in out
