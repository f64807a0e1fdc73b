"""Pair generation on the synthetic devkit: counts, drop rules, determinism, file and PNG round trips."""
import numpy as np
import pytest

from models.cli import main
from models.errors import DatasetError
from training.pairs import PairSet, export_png, generate_pairs, import_png, pairs_for_objects
from training.sampling import SamplingConfig
from training.voc import VOCDevkit, instances


@pytest.fixture(scope="module")
def train_pairs(synthetic_devkit):
    return generate_pairs(synthetic_devkit, "train", workers=1, seed=0, progress=False)


def expected_counts(devkit, split, cfg=SamplingConfig()):
    dk = VOCDevkit(devkit)
    kept, small = [], 0
    for image_id in dk.image_ids(split):
        for obj_id, m in instances(dk.load_objects(image_id)):
            if m.sum() < cfg.min_area:
                small += 1
            else:
                kept.append((image_id, obj_id))
    return kept, small


def test_counts_and_drop_rules(synthetic_devkit, train_pairs):
    kept, small = expected_counts(synthetic_devkit, "train")
    s = train_pairs.summary
    assert s["pairs_per_object"] == 15  # train default
    assert s["objects_dropped"]["too_small"] == small > 0
    assert s["objects_kept"] + s["objects_dropped"]["no_positive"] == len(kept)
    assert len(train_pairs) == 15 * s["objects_kept"] == s["pairs"]
    keys = {(p.image_id, p.object_id) for p in train_pairs}
    assert keys <= set(kept) and len(keys) == s["objects_kept"]
    dk = VOCDevkit(synthetic_devkit)
    for p in list(train_pairs)[::7]:
        objects = dk.load_objects(p.image_id)
        assert len(p.pos_xy) >= 1
        assert (objects[p.pos_xy[:, 1], p.pos_xy[:, 0]] == p.object_id).all()
        assert (objects[p.neg_xy[:, 1], p.neg_xy[:, 0]] != p.object_id).all()
        assert (objects[p.neg_xy[:, 1], p.neg_xy[:, 0]] != 255).all()
    assert set(train_pairs.pair_strategy.tolist()) == {1, 2, 3}


def test_val_default_one_pair_per_object(synthetic_devkit):
    ps = generate_pairs(synthetic_devkit, "val", workers=1, progress=False)
    assert ps.summary["pairs_per_object"] == 1
    assert len(ps) == ps.summary["objects_kept"] == len({(p.image_id, p.object_id) for p in ps})


def test_no_positive_objects_are_dropped():
    objects = np.zeros((80, 120), np.uint8)
    objects[10:18, 5:115] = 1   # 880 px but only 8 px thick: no room for a click 5 px from the edge
    objects[30:70, 20:60] = 2   # a normal object
    objects[30:40, 80:90] = 3   # 100 px: too small
    pairs, counts = pairs_for_objects(objects, "x", 4, np.random.default_rng(0), SamplingConfig())
    assert counts == {"objects": 3, "kept": 1, "too_small": 1, "no_positive": 1}
    assert len(pairs) == 4 and {p.object_id for p in pairs} == {2}


def test_deterministic_regardless_of_workers(synthetic_devkit, train_pairs):
    par = generate_pairs(synthetic_devkit, "train", workers=2, seed=0, progress=False)
    other = generate_pairs(synthetic_devkit, "train", workers=1, seed=1, progress=False)
    np.testing.assert_array_equal(par.pos_xy, train_pairs.pos_xy)
    np.testing.assert_array_equal(par.neg_xy, train_pairs.neg_xy)
    np.testing.assert_array_equal(par.pair_object, train_pairs.pair_object)
    assert len(other) == len(train_pairs)
    assert any(not np.array_equal(a.pos_xy, b.pos_xy) for a, b in zip(other, train_pairs))
    two = generate_pairs(synthetic_devkit, "train", pairs_per_object=2, workers=1, progress=False)
    assert len(two) == 2 * train_pairs.summary["objects_kept"]


def test_save_load_round_trip(train_pairs, tmp_path):
    path = tmp_path / "train.npz"
    train_pairs.save(path)
    back = PairSet.load(path)
    assert back.image_ids == train_pairs.image_ids
    assert back.summary == train_pairs.summary and back.meta == train_pairs.meta
    for name in ("image_sizes", "pair_image", "pair_object", "pair_strategy", "pos_offsets", "pos_xy",
                 "neg_offsets", "neg_xy"):
        np.testing.assert_array_equal(getattr(back, name), getattr(train_pairs, name))
    assert back.meta["sampling"]["d_step"] == 10


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(DatasetError, match="no such pairs file"):
        PairSet.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="bad.npz"):
        PairSet.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DatasetError, match="not an ifcn pairs file"):
        PairSet.load(other)


def test_png_export_import_round_trip(train_pairs, tmp_path):
    sub = PairSet.from_pairs(list(train_pairs)[:20], {i: train_pairs.image_size(i) for i in train_pairs.image_ids})
    n = export_png(sub, tmp_path / "png")
    assert n == 40 and len(list((tmp_path / "png").glob("*.png"))) == 40
    back = import_png(tmp_path / "png", "train")

    def key(ps):
        out = {}
        for p in ps:
            k = (p.image_id, p.object_id)
            out.setdefault(k, []).append((sorted(map(tuple, p.pos_xy.tolist())), sorted(map(tuple, p.neg_xy.tolist()))))
        return out

    assert key(back) == key(sub)
    assert all(back.image_size(i) == sub.image_size(i) for i in back.image_ids)


def test_import_png_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no click maps"):
        import_png(tmp_path / "empty")
    with pytest.raises(DatasetError, match="no such folder"):
        import_png(tmp_path / "missing")


def test_bad_image_is_skipped_and_counted(devkit_copy):
    dk = VOCDevkit(devkit_copy)
    dk.object_path("synth_00001").unlink()
    dk.object_path("synth_00002").write_bytes(b"garbage")
    ps = generate_pairs(devkit_copy, "train", pairs_per_object=1, workers=1, progress=False)
    s = ps.summary
    assert s["images_skipped"] == 2 and s["images_used"] == 2
    assert {b["image"] for b in s["bad_images"]} == {"synth_00001", "synth_00002"}
    assert all("synth_0000" in b["error"] for b in s["bad_images"])
    assert not {"synth_00001", "synth_00002"} & set(ps.image_ids)


def test_cli_pairs(synthetic_devkit, tmp_path, capsys):
    out = tmp_path / "val.npz"
    rc = main(["pairs", "--voc-root", str(synthetic_devkit), "--split", "val", "--out", str(out),
               "--workers", "1", "--no-progress", "--export-png", str(tmp_path / "png")])
    assert rc == 0
    text = capsys.readouterr().out
    ps = PairSet.load(out)
    assert f"{len(ps)} pairs" in text and "dropped" in text
    assert len(list((tmp_path / "png").glob("*_pos.png"))) == len(ps)
    back = tmp_path / "back.npz"
    assert main(["pairs", "--import-png", str(tmp_path / "png"), "--split", "val", "--out", str(back)]) == 0
    assert len(PairSet.load(back)) == len(ps)
    assert main(["pairs", "--voc-root", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "nothing" in capsys.readouterr().err
