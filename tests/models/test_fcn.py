import pytest
import torch

from models.backbones import BACKBONES, build_backbone, widen_first_conv
from models.fcn import build_ifcn
from models.spec import ModelSpec

TORCHVISION = ["alexnet", "vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@pytest.mark.parametrize("backbone", TORCHVISION)
def test_every_backbone_stride_and_upsampling_gives_input_size(backbone):
    from models.fcn import IFCN
    torch.manual_seed(0)
    bb = build_backbone(backbone, weights=None)
    assert sorted(bb.channels) == [8, 16, 32]
    x = torch.randn(1, 5, 67, 71)  # odd sizes
    with torch.no_grad():
        feats = bb.eval()(x)
        for s in (8, 16, 32):
            assert feats[s].shape[1] == bb.channels[s]
            assert abs(feats[s].shape[-1] - 71 / s) <= 2
        for stride in (8, 16, 32):
            for up in ("deconv", "bilinear"):
                net = IFCN(ModelSpec(backbone=backbone, stride=stride, upsample=up), bb).eval()
                assert net(x).shape == (1, 1, 67, 71)


def test_tiny_and_non_square_inputs():
    net = build_ifcn(ModelSpec(backbone="resnet18", stride=8)).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 5, 13, 29)).shape == (2, 1, 13, 29)
        assert net(torch.randn(1, 5, 101, 33)).shape == (1, 1, 101, 33)


def test_widen_first_conv_inits():
    conv = torch.nn.Conv2d(3, 4, 3)
    z = widen_first_conv(conv, 2, "zero")
    m = widen_first_conv(conv, 2, "mean")
    assert z.in_channels == 5
    assert torch.equal(z.weight[:, :3], conv.weight) and torch.all(z.weight[:, 3:] == 0)
    assert torch.allclose(m.weight[:, 3], conv.weight.mean(1))
    x = torch.randn(1, 3, 8, 8)
    x5 = torch.cat([x, torch.randn(1, 2, 8, 8)], 1)
    assert torch.allclose(z(x5), conv(x), atol=1e-6)  # zero init: extra channels have no effect


def test_deconv_starts_as_bilinear():
    from models.fcn import Upsample
    up = Upsample(2, "deconv")
    x = torch.ones(1, 1, 6, 6)
    y = up(x)
    assert y.shape[-1] == 12
    assert torch.allclose(y[..., 2:-2, 2:-2], torch.ones_like(y[..., 2:-2, 2:-2]))


def test_registry_lists_paper_backbones():
    assert set(TORCHVISION) <= set(BACKBONES)


def test_missing_imagenet_weights_never_download(tmp_path, monkeypatch):
    from models.errors import IFCNError
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(IFCNError, match="allow a download"):
        build_backbone("resnet18", weights="imagenet")


def test_corrupt_local_weights_file_names_the_file(tmp_path):
    from models.errors import IFCNError
    bad = tmp_path / "r18.pth"
    bad.write_bytes(b"garbage, not a state dict")
    with pytest.raises(IFCNError, match="r18.pth.*not usable"):
        build_backbone("resnet18", weights=str(bad))


@pytest.mark.parametrize("stride", [2, 8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(1, 1), (5, 7), (31, 21)])
def test_polyphase_deconv_is_the_transposed_convolution(stride, channels, size):
    """The head's upsampling by phases gives PyTorch's transposed convolution (kernel 2 x stride, padding
    stride / 2, one filter per channel), values and the gradient its kernel learns from."""
    import torch.nn.functional as F

    from models.fcn import polyphase_deconv

    g = torch.Generator().manual_seed(stride + channels)
    x = torch.randn(2, channels, *size, generator=g)
    k1 = torch.rand(channels, 1, 2 * stride, 2 * stride, generator=g).requires_grad_(True)
    k2 = k1.detach().clone().requires_grad_(True)
    ref = F.conv_transpose2d(x, k1, stride=stride, padding=stride // 2, groups=channels)
    got = polyphase_deconv(x, k2, stride, stride // 2)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    up = torch.randn(ref.shape, generator=g)
    (ref * up).sum().backward()
    (got * up).sum().backward()
    torch.testing.assert_close(k2.grad, k1.grad, atol=1e-4, rtol=1e-4)


def test_one_filter_serves_every_channel():
    """A one-channel Upsample applied to several maps (f-BRS's per-feature maps) uses its filter on each."""
    from models.fcn import Upsample

    up = Upsample(8, "deconv")
    x = torch.randn(1, 4, 6, 5)
    out = up(x)
    for c in range(4):
        torch.testing.assert_close(out[:, c:c + 1], up(x[:, c:c + 1]))


def test_score_map_is_the_one_by_one_convolution():
    """The head's 1x1 scores as a matrix product (contiguous features, as an engine returns them) equal the
    convolution, for batches and in channels-last memory (which takes the convolution itself), gradients too."""
    import torch.nn.functional as F

    from models.fcn import score_map

    g = torch.Generator().manual_seed(4)
    f = torch.randn(3, 40, 9, 7, generator=g, requires_grad=True)
    w = torch.randn(1, 40, 1, 1, generator=g, requires_grad=True)
    b = torch.randn(1, generator=g, requires_grad=True)
    ref = F.conv2d(f, w, b)
    for x in (f, f.contiguous(memory_format=torch.channels_last)):
        got = score_map(x, w, b)
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    gw_ref, = torch.autograd.grad(ref.sum(), w)
    gw, = torch.autograd.grad(score_map(f, w, b).sum(), w)
    torch.testing.assert_close(gw, gw_ref, atol=1e-4, rtol=1e-5)
