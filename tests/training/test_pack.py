"""training.pack: a smaller copy of object folders that trains the same (layout, split, mask values, terms)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from training.layouts import ObjectFolder, open_object_sources
from training.pack import main, pack
from tests.training.test_layouts import simple_folder, square, write_folder


def test_pack_keeps_layout_split_values_and_terms(tmp_path):
    src = tmp_path / "src"
    simple_folder(src / "shapes", 12)
    (src / "shapes" / "SOURCE.md").write_text("terms: research only\n")
    both = {0: square(10, 10, 30, band=3), 1: square(20, 30, 30)}  # overlapping objects stay separate files
    write_folder(src / "overlap", {"pair": both})
    (src / "overlap" / "images" / "broken.png").write_bytes(b"\x89PNG not really")
    Image.fromarray(square(0, 0, 10)).save(src / "overlap" / "masks" / "broken_0.png")

    counts = pack([str(src)], tmp_path / "out", longest=40)
    assert counts == {"overlap": {"images": 1, "masks": 2, "skipped": 1},
                      "shapes": {"images": 12, "masks": 12, "skipped": 0}}
    assert (tmp_path / "out" / "shapes" / "SOURCE.md").read_text() == "terms: research only\n"
    before = ObjectFolder(src / "shapes" / "images")
    after = ObjectFolder(tmp_path / "out" / "shapes" / "images")
    assert after.image_ids("val") == before.image_ids("val") and after.image_ids("train") == before.image_ids("train")
    rgb = after.load_rgb(after.image_ids()[0])
    assert max(rgb.shape[:2]) == 40
    pair = ObjectFolder(tmp_path / "out" / "overlap" / "images")
    (k0, obj0, ign0), (k1, obj1, ign1) = pair.load_masks("pair")
    assert obj0.shape == rgb.shape[:2] and ign0.any() and not ign1.any() and (obj0 & obj1).any()
    raw = np.array(Image.open(tmp_path / "out" / "overlap" / "masks" / "pair_0.png"))
    assert set(np.unique(raw)) == {0, 128, 255}  # nearest-neighbour: no blended values
    assert [f.name for f, _ in open_object_sources([str(tmp_path / "out")])] == ["overlap", "shapes"]


def test_pack_command_line(tmp_path, capsys):
    simple_folder(tmp_path / "one", 3)
    assert main([str(tmp_path / "one"), "--out", str(tmp_path / "o"), "--longest", "32"]) == 0
    assert "one: 3 images, 3 masks" in capsys.readouterr().out
    assert main([str(tmp_path / "one"), "--out", str(tmp_path / "o"), "--longest", "4"]) == 2
    assert "--longest must be at least 8" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
