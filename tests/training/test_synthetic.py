"""The synthetic devkit: VOC layout, void borders, several objects, determinism, CLI."""
import numpy as np
import pytest

from models.cli import main
from models.errors import IFCNError
from training.synthetic import write_synthetic_devkit
from training.voc import VOCDevkit, instances


def test_layout_and_content(synthetic_devkit):
    dk = VOCDevkit(synthetic_devkit)
    train, val, both = dk.image_ids("train"), dk.image_ids("val"), dk.image_ids("trainval")
    assert len(train) == 4 and len(val) == 4 and both == train + val
    n_objects, areas = 0, []
    for image_id in both:
        s = dk.load(image_id)
        objs = instances(s.objects)
        n_objects += len(objs)
        areas += [int(m.sum()) for _, m in objs]
        # Void separates every object from its surroundings: no object pixel touches another label.
        for _, m in objs:
            grown = np.zeros_like(m)
            grown[1:] |= m[:-1]; grown[:-1] |= m[1:]; grown[:, 1:] |= m[:, :-1]; grown[:, :-1] |= m[:, 1:]
            ring = grown & ~m
            assert (s.objects[ring] == 255).all()
        # The image is textured, not flat.
        assert s.rgb.std() > 10
    assert n_objects >= 2 * len(both)
    assert min(areas) < 400 <= max(areas)  # some objects get dropped by the 400 px rule, most are kept


def test_deterministic(tmp_path):
    a = write_synthetic_devkit(tmp_path / "a", 2, seed=3, size=(64, 64))
    b = write_synthetic_devkit(tmp_path / "b", 2, seed=3, size=(64, 64))
    c = write_synthetic_devkit(tmp_path / "c", 2, seed=4, size=(64, 64))
    pa, pb, pc = (d / "VOC2012" / "SegmentationObject" / "synth_00000.png" for d in (a, b, c))
    assert pa.read_bytes() == pb.read_bytes()
    assert pa.read_bytes() != pc.read_bytes()


def test_bad_arguments(tmp_path):
    with pytest.raises(IFCNError, match="at least 2"):
        write_synthetic_devkit(tmp_path, 1)


def test_cli(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--images", "2", "--height", "64", "--width", "80"]) == 0
    assert "wrote 2 synthetic images" in capsys.readouterr().out
    dk = VOCDevkit(tmp_path)
    assert dk.load(dk.image_ids("val")[0]).rgb.shape == (64, 80, 3)
    assert main(["synth", "--out", str(tmp_path), "--images", "1"]) == 2
    assert "error:" in capsys.readouterr().err
