"""FCN-4s: the stride-4 score layer (ResNet and EfficientNet-Lite backbones) and an FCN-8s model made FCN-4s."""
import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.clicks import Click
from models.errors import IFCNError
from models.fcn import FINE_GAIN, build_ifcn, with_stride4
from models.spec import ModelSpec
from tests.models.helpers import random_model


@pytest.mark.parametrize("backbone", ["resnet18", "efficientnet_lite0"])
@pytest.mark.parametrize("size", [(67, 71), (128, 96), (13, 29)])
def test_fcn4_gives_input_size_and_reads_stride4(backbone, size):
    net = random_model(backbone, stride=4)
    assert net.head_strides == (4, 8, 16, 32)
    x = torch.randn(1, 5, *size)
    with torch.no_grad():
        f = net.features(x)
        assert sorted(f) == [4, 8, 16, 32] and f[4].shape[1] == net.backbone.channels[4]
        assert f[4].shape[-2] == 2 * f[8].shape[-2]
        out = net(x)
        assert out.shape == (1, 1, *size)
        net.score4.weight.zero_()
        net.score4.bias.zero_()
        assert float((net(x) - out).abs().max()) > 1e-4  # the stride-4 layer is in the sum


def test_stride4_refused_on_a_backbone_without_a_tap():
    with pytest.raises(IFCNError, match="FCN-4s"):
        build_ifcn(ModelSpec(backbone="vgg16", stride=4))


def test_fcn8_models_have_no_stride4_features():
    net = random_model("efficientnet_lite0", stride=8)
    with torch.no_grad():
        assert sorted(net.features(torch.randn(1, 5, 64, 64))) == [8, 16, 32]


def test_with_stride4_starts_from_the_fcn8_prediction():
    """The new score layer starts at zero and both new upsamplings bilinear: an FCN-8s model whose x8 upsampling
    is still bilinear predicts the same after the change (to float rounding)."""
    net = random_model("efficientnet_lite0", stride=8)
    x = torch.randn(1, 5, 96, 128)
    with torch.no_grad():
        before = torch.sigmoid(net(x))
        net4 = with_stride4(net).eval()
        after = torch.sigmoid(net4(x))
    assert net4.spec.stride == 4 and net4.score4.weight.abs().sum() == 0 and net.spec.stride == 8
    assert list(dict(net4.named_parameters())) == list(dict(random_model("efficientnet_lite0", 4).named_parameters()))
    # x2 then x4 bilinear against x8 bilinear: the same interpolation inside, different at the borders
    assert float((before - after)[..., 8:-8, 8:-8].abs().max()) < 0.05
    with pytest.raises(ValueError, match="FCN-8s"):
        with_stride4(random_model("efficientnet_lite0", stride=16))


def test_fine_features_carry_their_gain():
    net = random_model("resnet18", stride=4)
    x = torch.randn(1, 5, 64, 64)
    with torch.no_grad():
        raw = net.backbone(x)[4]
        assert torch.allclose(net.features(x)[4], raw * FINE_GAIN)


def test_fcn4_checkpoint_round_trip_and_predictor(tmp_path):
    """An FCN-4s checkpoint loads as one (spec and weights) and the annotator's predictor runs it with f-BRS."""
    from models.predictor import Predictor

    net = random_model("efficientnet_lite0", stride=4)
    path = tmp_path / "fcn4.pt"
    save_checkpoint(path, net)
    loaded = load_checkpoint(path, map_location="cpu")
    assert loaded.spec.stride == 4
    x = torch.randn(1, 5, 64, 96)
    with torch.no_grad():
        assert torch.allclose(loaded.model.eval()(x), net(x), atol=1e-5)
    rgb = (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)
    pred = Predictor.load(str(path), device="cpu")
    pred.set_image(rgb)
    prob = pred.predict([Click(60, 45, True), Click(10, 10, False)])
    assert prob.shape == (90, 120) and np.isfinite(prob).all()

