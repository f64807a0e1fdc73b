"""The optimised inference path (BatchNorm folded, channels_last, inference_mode) gives the plain path's outputs."""
import numpy as np
import pytest
import torch
from torch import nn

from models.clicks import Click
from models.fcn import build_ifcn
from models.inputs import make_input
from models.predictor import Predictor, fold_batchnorm
from models.spec import ModelSpec


# score-layer weight scale giving probabilities away from 0 and 1 on random inputs
SCORE_STD = {"efficientnet_lite0": 0.5, "resnet18": 0.02}


def model_with_real_bn(backbone: str, seed: int = 0) -> nn.Module:
    """A random iFCN whose BatchNorms have non-trivial statistics and affine terms, score layers non-zero."""
    torch.manual_seed(seed)
    net = build_ifcn(ModelSpec(backbone=backbone, stride=8, mean=(0.5,) * 3, std=(0.5,) * 3))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
        for name, p in net.named_parameters():
            if name.startswith("score"):
                p.normal_(0, SCORE_STD[backbone])
    return net.eval()


def plain_prob(net: nn.Module, rgb: np.ndarray, clicks) -> np.ndarray:
    """The unoptimised reference: contiguous fp32, no_grad, BatchNorm as separate layers."""
    x = torch.from_numpy(make_input(rgb, clicks, net.spec))[None]
    with torch.no_grad():
        return torch.sigmoid(net(x))[0, 0].numpy()


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "resnet18"])
def test_folding_removes_batchnorm_and_keeps_outputs(backbone):
    net = model_with_real_bn(backbone)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    x = torch.randn(1, 5, 67, 90)  # odd and even sides: both TF-"same" padding cases
    with torch.no_grad():
        a, b = torch.sigmoid(net(x)), torch.sigmoid(folded(x))
    assert float((a - b).abs().max()) < 1e-4
    assert float(a.std()) > 1e-3  # the comparison is on a non-constant output


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "resnet18"])
def test_predictor_matches_plain_inference(backbone):
    net = model_with_real_bn(backbone, seed=1)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (75, 101, 3), dtype=np.uint8)
    clicks = [Click(50, 40, True), Click(5, 70, False), Click(90, 10, True)]
    ref = plain_prob(net, rgb, clicks)
    p = Predictor(net, device="cpu", max_size=512, zoom_in=None, brs=None, snap=None)  # one whole-image run
    p.set_image(rgb)
    prob = p.predict(clicks)
    assert prob.shape == ref.shape
    assert float(np.abs(prob - ref).max()) < 1e-4
    assert float(ref.std()) > 1e-3


def test_folding_skips_batchnorm_not_after_a_conv():
    """A BatchNorm that does not directly follow a convolution is kept (folding it would be wrong)."""
    seq = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4)).eval()
    with torch.no_grad():
        seq[2].running_mean.fill_(0.3)
    folded = fold_batchnorm(seq)
    assert isinstance(folded[2], nn.BatchNorm2d)
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(seq(x), folded(x))
