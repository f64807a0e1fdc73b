"""Model → Inference Engine (annotator/model_actions.py): the setting reaches every predictor the window loads."""
from __future__ import annotations

import time

import numpy as np
import pytest

from annotator import model_actions
from annotator.settings import ENGINES, Settings, load_settings
from models import engines
from models.predictor import Predictor
from tests.models.helpers import random_model
from tests.window_factory import click


@pytest.fixture(scope="module")
def model():
    return random_model("efficientnet_lite0")


@pytest.fixture
def fake_openvino(monkeypatch, model):
    """OpenVINO as the only installed engine, "compiled" instantly to the network's own features (so the
    check passes); returns the list of sizes it compiled."""
    import torch

    built = []

    def build(graph, threads):
        built.append(threads)
        feats = engines._Features(model.eval())
        return lambda x: [t.numpy() for t in feats(torch.from_numpy(x))]

    monkeypatch.setattr(engines, "available", lambda name: name == "openvino")
    monkeypatch.setattr(engines, "PREFERENCE", ("openvino", "onnxruntime"))
    monkeypatch.setattr(engines, "export_features", lambda net, x: b"")
    monkeypatch.setattr(engines, "export_in_child", lambda net, x: b"")
    monkeypatch.setitem(engines._BUILDERS, "openvino", build)
    return built


def _wait(cond, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_settings_engines_are_the_models():
    """The settings' list is models.engines' (kept apart so that settings never import torch); an unknown
    stored value falls back to auto, the default."""
    assert ENGINES == engines.ENGINES
    assert Settings().engine == "auto" and Settings().updated(engine="tensorrt").engine == "auto"


def test_engine_menu_applies_the_setting_to_every_predictor(make_window, image_folder, model, fake_openvino):
    """By default (auto) the window's predictor runs its backbone through the fastest installed engine, the
    image's size compiled in the background; a click predicts through it. Model → Inference Engine → PyTorch
    is remembered and applies to the current and to a newly loaded predictor; engines not installed are
    greyed out; back to Automatic."""
    w = make_window(folder=image_folder, predictor=Predictor(model, device="cpu", brs=None))
    assert w.settings.engine == "auto"
    model_actions.install_engine_menu(w)
    menu = w.model_menu.findChild(type(w.model_menu), "EngineMenu")
    assert menu is not None and [a.text() for a in menu.actions()] == [t for _, t in model_actions.ENGINE_CHOICES]
    acts = w.engine_actions
    assert acts["auto"].isChecked() and acts["openvino"].isEnabled() and not acts["onnxruntime"].isEnabled()
    assert "pip install onnxruntime" in acts["onnxruntime"].toolTip()
    p = w.predictor
    assert p._engine is not None and p._engine.name == "auto"
    h, wd = w.image.shape[:2]
    assert _wait(lambda: p._engine.ready((1, 5, h, wd)))  # compiled on the image, before any click
    assert p.info()["engine"] == "auto (openvino)" and fake_openvino

    acts["torch"].trigger()
    assert w.settings.engine == "torch" and load_settings(w.store).engine == "torch"
    assert acts["torch"].isChecked() and not acts["auto"].isChecked()
    assert p._engine is None and p.info()["engine"] == "torch"
    fresh = Predictor(model, device="cpu", brs=None)
    fresh.set_engine("auto")
    w.set_predictor(fresh)  # what Load Checkpoint… / Use Default Model end in
    assert fresh._engine is None

    acts["auto"].trigger()
    assert w.settings.engine == "auto" and fresh._engine is not None
    assert "Inference engine: auto" in w.statusBar().currentMessage()
    w.set_predictor(Predictor(None))  # GrabCut: nothing to run through an engine
    assert model_actions.apply_engine(w) is None


def test_a_click_predicts_through_the_engine(qtbot, make_window, image_folder, model, fake_openvino):
    """A real click in the window after the engine compiled the image's size: the mask comes from the
    engine's features and equals PyTorch's (GrabCut off; away from the threshold by the tolerance), and
    Model Info names the engine."""
    w = make_window(folder=image_folder, predictor=Predictor(model, device="cpu", brs=None), refine=False)
    model_actions.install_engine_menu(w)
    p = w.predictor
    h, wd = w.image.shape[:2]
    assert _wait(lambda: p._engine.ready((1, 5, h, wd)))
    calls = []
    original = p._engine.features
    p._engine.features = lambda x: calls.append(tuple(x.shape)) or original(x)
    click(qtbot, w, wd // 2, h // 2)
    assert w.wait_for_inference(20)
    assert calls == [(1, 5, h, wd)]
    mask = w.current_mask()
    assert mask is not None and mask.shape == (h, wd)
    eager = Predictor(model, device="cpu", brs=None)
    eager.set_image(w.image)
    from models.clicks import Click
    want = eager.predict([Click(wd // 2, h // 2, True)])
    near = np.abs(want - w.settings.threshold) <= engines.TOLERANCE  # may flip within the tolerance
    assert np.array_equal(mask[~near], (want >= w.settings.threshold)[~near])
    assert w.model_info()["engine"] == "auto (openvino)"
