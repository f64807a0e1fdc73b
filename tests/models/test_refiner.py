"""The learned refiner (models.refiner): identity at initialisation, only the transition band's box computed,
clicks honoured, carried in a checkpoint (spec.extra) and run by the predictor in place of edge snapping."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.clicks import Click
from models.errors import CheckpointError
from models.fcn import IFCN, build_ifcn
from models.predictor import Predictor
from models.regions import despeckle
from models.refiner import ALIGN, CLICK_RADIUS, EPS, REACH, Refiner, refine, refine_logits, refiner_input
from models.spec import ModelSpec
from tests.models.helpers import rewritten_checkpoint
from training.export import attach_refiner, export_checkpoint, read_refiner


def _photo(h: int = 80, w: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy photo with a bright disc, and a blurry probability of the disc."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - h / 2, xx - w / 2)
    rgb[d < 20] = (220, 200, 40)
    prob = (1 / (1 + np.exp((d - 22) / 3))).astype(np.float32)
    return rgb, prob


def _random_refiner(seed: int = 0, width: int = 8) -> Refiner:
    torch.manual_seed(seed)
    r = Refiner(width)
    with torch.no_grad():
        for p in r.parameters():
            p.normal_(0, 0.2)
    return r.eval()


def test_a_new_refiner_returns_the_probability_unchanged():
    rgb, prob = _photo()
    out = refine(Refiner(8).eval(), rgb, prob, [])
    np.testing.assert_allclose(out, prob, atol=EPS + 1e-6)  # the logit is taken of the probability clipped to EPS
    np.testing.assert_array_equal(out >= 0.5, prob >= 0.5)


def test_only_the_transition_box_changes_and_clicks_keep_their_side():
    rgb, prob = _photo(200, 300)
    clicks = [Click(150, 100, True), Click(190, 100, False)]
    out = refine(_random_refiner(), rgb, prob, clicks)
    band = (prob > 0.01) & (prob < 0.99)
    ys, xs = np.nonzero(band)
    far = np.ones_like(band)
    far[max(0, ys.min() - REACH - ALIGN):ys.max() + 1 + REACH,
        max(0, xs.min() - REACH - ALIGN):xs.max() + 1 + REACH] = False  # the box's origin is on the ALIGN grid
    assert far.any()
    np.testing.assert_array_equal(out[far], prob[far])
    assert not np.allclose(out[~far], prob[~far])  # random weights do change the band
    for c in clicks:
        x, y = c.pixel()
        disc = out[y - CLICK_RADIUS + 1:y + CLICK_RADIUS, x - 1:x + 2]
        assert np.all(disc == (1.0 if c.positive else 0.0))
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_the_crop_gives_what_the_whole_image_gives_inside_the_reach():
    """The box is computed on its own: within the box, away from its border, the result equals running on
    the whole image (the refiner's receptive field stays inside the reach)."""
    rgb, prob = _photo(300, 400)
    model = _random_refiner(1)
    clicks = [Click(200, 150, True)]
    boxed = refine(model, rgb, prob, clicks)
    with torch.inference_mode():
        x = torch.from_numpy(refiner_input(rgb, prob, clicks))[None]
        whole = torch.sigmoid(refine_logits(model, x))[0, 0].numpy()
    band = (prob > 0.01) & (prob < 0.99)
    assert (prob[:, :REACH + 40] < 0.01).all()  # the box is strictly inside the photo
    np.testing.assert_allclose(boxed[band], whole[band], atol=1e-4)


def _model_with_refiner(width: int = 8) -> IFCN:
    torch.manual_seed(0)
    base = build_ifcn(ModelSpec(backbone="resnet18"))
    spec = ModelSpec(backbone="resnet18", extra={"refiner": {"arch": "refiner-v1", "width": width}})
    net = IFCN(spec, base.backbone)
    return net.eval()


def test_checkpoint_round_trip_keeps_the_refiner(tmp_path):
    net = _model_with_refiner()
    with torch.no_grad():
        for p in net.refiner.parameters():
            p.normal_(0, 0.1)
    save_checkpoint(tmp_path / "m.pt", net)
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.spec.refiner == {"arch": "refiner-v1", "width": 8}
    assert "+ refiner" in loaded.spec.name
    for k, v in net.refiner.state_dict().items():
        assert torch.equal(loaded.model.refiner.state_dict()[k], v)


@pytest.mark.parametrize("extra", [{"refiner": {"arch": "evil", "width": 8}},
                                   {"refiner": {"arch": "refiner-v1", "width": 100000}},
                                   {"refiner": {"arch": "refiner-v1", "width": "8"}},
                                   {"refiner": {"arch": "refiner-v1", "width": 8, "code": "x"}},
                                   {"refiner": {"arch": "refiner-v1", "width": 8, "input": "evil"}},
                                   {"refiner": {"arch": "refiner-v1", "width": 16}},  # the weights are width 8
                                   {"payload": 1}])
def test_hostile_refiner_specs_are_refused(tmp_path, extra):
    """Unknown architectures, widths, inputs or fields, and a width the stored weights do not have."""
    net = _model_with_refiner(8)
    save_checkpoint(tmp_path / "m.pt", net)
    bad = rewritten_checkpoint(tmp_path / "m.pt", tmp_path / "bad.pt",
                               lambda raw: raw["spec"].__setitem__("extra", extra))
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)


def test_export_attaches_a_trained_refiner_and_the_predictor_runs_it(tmp_path, monkeypatch):
    base = build_ifcn(ModelSpec(backbone="resnet18"))
    save_checkpoint(tmp_path / "base.pt", base)
    ref = _random_refiner(2, width=8)
    torch.save({"model": ref.state_dict(), "width": 8, "step": 1}, tmp_path / "ref.pt")
    meta = export_checkpoint(tmp_path / "base.pt", tmp_path / "out.pt", refiner=tmp_path / "ref.pt")
    assert meta["refiner_from"].endswith("ref.pt")
    rgb, _ = _photo()
    clicks = [Click(48, 40, True)]
    with_ref = Predictor.load(tmp_path / "out.pt", engine="torch")
    guided = Predictor.load(tmp_path / "out.pt", engine="torch", learned=False)
    plain = Predictor.load(tmp_path / "base.pt", engine="torch")
    assert with_ref.uses_refiner and with_ref.info()["learned_refiner"]
    assert not guided.uses_refiner and not plain.uses_refiner
    assert not Predictor.load(tmp_path / "out.pt", engine="torch", snap=None).uses_refiner
    for p in (with_ref, guided, plain):
        p.set_image(rgb)
    a, b, c = (p.predict(clicks) for p in (with_ref, guided, plain))
    np.testing.assert_array_equal(b, c)  # learned=False: the guided filter, as without a refiner
    raw = Predictor.load(tmp_path / "out.pt", engine="torch", snap=None)
    raw.set_image(rgb)
    expected = refine(with_ref.model.refiner, rgb, raw.predict(clicks), clicks)
    np.testing.assert_allclose(a, expected, atol=1e-3)  # fp16 storage: the refiner's weights as stored
    assert not np.allclose(a, b)
    # a refiner trained on snapped probabilities refines the guided filter's result
    torch.save({"model": ref.state_dict(), "width": 8, "input": "snapped"}, tmp_path / "ref_s.pt")
    export_checkpoint(tmp_path / "base.pt", tmp_path / "out_s.pt", refiner=tmp_path / "ref_s.pt")
    on_snap = Predictor.load(tmp_path / "out_s.pt", engine="torch")
    assert on_snap.spec.refiner["input"] == "snapped"
    on_snap.set_image(rgb)
    np.testing.assert_allclose(on_snap.predict(clicks), refine(on_snap.model.refiner, rgb, b, clicks), atol=1e-3)
    # one trained on colour-refined probabilities runs after colour refinement, and only when that is on
    torch.save({"model": ref.state_dict(), "width": 8, "input": "colour"}, tmp_path / "ref_c.pt")
    export_checkpoint(tmp_path / "base.pt", tmp_path / "out_c.pt", refiner=tmp_path / "ref_c.pt")
    after = Predictor.load(tmp_path / "out_c.pt", engine="torch")
    after.set_image(rgb)
    guided.set_image(rgb)
    np.testing.assert_array_equal(after.predict(clicks), b)  # no colour refinement: guided snapping only
    monkeypatch.setattr("models.predictor.despeckle", lambda prob, clicks: prob)
    coloured = guided.predict(clicks, refine=True)  # colour-refined, before its specks are removed
    monkeypatch.undo()
    expected = despeckle(refine(after.model.refiner, rgb, coloured, clicks), clicks)
    np.testing.assert_allclose(after.predict(clicks, refine=True), expected, atol=1e-3)


def test_read_refiner_refuses_what_is_not_a_refiner(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    torch.save({"model": {"w": torch.zeros(1)}, "width": 8}, tmp_path / "wrong.pt")
    torch.save({"model": Refiner(8).state_dict(), "width": 999}, tmp_path / "width.pt")
    torch.save({"model": Refiner(8).state_dict(), "width": 8, "input": "x"}, tmp_path / "input.pt")
    for name in ("junk.pt", "wrong.pt", "width.pt", "input.pt"):
        with pytest.raises(CheckpointError):
            read_refiner(tmp_path / name)
    with pytest.raises(CheckpointError):
        attach_refiner(build_ifcn(ModelSpec(backbone="resnet18")), tmp_path / "wrong.pt")
