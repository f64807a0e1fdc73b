"""The network's masks stay on the object whatever the photo's size (MODEL_CARD, "Masks on photos whose sides are
not multiples of 32"): inputs are padded to a multiple of the coarsest stride before the trunk and cut back after."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models import fcn
from models.clicks import Click
from models.fcn import build_ifcn, padded_size
from models.predictor import Predictor
from models.spec import ModelSpec
from resources import SAMPLES


def _net_with_scores(backbone: str) -> fcn.IFCN:
    torch.manual_seed(0)
    net = build_ifcn(ModelSpec(backbone=backbone, stride=8)).eval()
    with torch.no_grad():  # the score layers start at zero: give them weights so the logits depend on the input
        for s in (8, 16, 32):
            getattr(net, f"score{s}").weight.normal_(0, 0.1)
    return net


def test_padded_sizes_are_multiples_of_the_coarsest_stride():
    assert [padded_size(n) for n in (1, 63, 64, 65, 321, 384, 481)] == [64, 64, 64, 96, 352, 384, 512]


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "resnet18"])
def test_an_odd_sized_input_is_the_padded_input_cut_back(backbone):
    net = _net_with_scores(backbone)
    x = torch.randn(1, 5, 67, 101)
    padded = F.pad(x, (0, 128 - 101, 0, 96 - 67), mode="replicate")
    with torch.no_grad():
        a, b = net(x), net(padded)[..., :67, :101]
    assert a.shape == (1, 1, 67, 101)
    assert torch.allclose(a, b, atol=1e-5)


def _best_shift(a: np.ndarray, b: np.ndarray, r: int = 10) -> tuple[int, int, float]:
    """(dx, dy, IoU): the shift of mask `b` that best matches mask `a`."""
    best = (0, 0, -1.0)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            s = np.roll(np.roll(b, dy, 0), dx, 1)
            v = (a & s).sum() / max(1, (a | s).sum())
            if v > best[2]:
                best = (dx, dy, float(v))
    return best


def _masks(monkeypatch, align: int) -> tuple[np.ndarray, np.ndarray]:
    """The default network's mask of the cat (one click on its face) on a 480 x 320 photo (sides multiples of
    32, as in training) and on the same photo cut to 471 x 311 (odd sides), both cut to the smaller."""
    monkeypatch.setattr(fcn, "ALIGN", align)
    rgb = cv2.cvtColor(cv2.imread(str(SAMPLES / "chelsea.jpg")), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (480, 320), interpolation=cv2.INTER_AREA)
    p = Predictor.load(None, device="cpu", brs=None, snap=None)
    click = [Click(x=260.0, y=130.0, positive=True)]
    p.set_image(rgb)
    a = p.predict(click) >= 0.5
    p.set_image(np.ascontiguousarray(rgb[:311, :471]))
    b = p.predict(click) >= 0.5
    return a[:311, :471], b


def test_the_mask_does_not_move_when_the_photo_is_not_a_multiple_of_32(monkeypatch):
    a, b = _masks(monkeypatch, fcn.ALIGN)
    assert a.sum() > 2000  # the face is selected
    dx, dy, _ = _best_shift(a, b)
    assert abs(dx) <= 1 and abs(dy) <= 1, (dx, dy)
    assert (a & b).sum() / (a | b).sum() > 0.9
    # without the padding the same check sees the shift this guards against (the test can fail)
    dx, dy, _ = _best_shift(*_masks(monkeypatch, 1))
    assert max(abs(dx), abs(dy)) >= 3, (dx, dy)
