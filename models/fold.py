"""BatchNorm folded into the convolution before it, for inference: the same outputs, fewer passes."""
from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _fold_pair(parent: nn.Module, conv_name: str, bn_name: str) -> None:
    conv, bn = parent._modules.get(conv_name), parent._modules.get(bn_name)
    if isinstance(conv, nn.Conv2d) and type(bn) is nn.BatchNorm2d and bn.track_running_stats \
            and conv.out_channels == bn.num_features:
        parent._modules[conv_name] = fuse_conv_bn_eval(conv, bn)
        parent._modules[bn_name] = nn.Identity()


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` with each BatchNorm that directly follows a convolution folded into it.

    Folded: consecutive Conv2d → BatchNorm2d children of an `nn.Sequential` (where order is data flow), and
    the convN → bnN pairs of torchvision ResNet blocks and of the ResNet trunk. `model` itself is not changed.
    """
    from torchvision.models.resnet import BasicBlock, Bottleneck

    from models.backbones import ResNetFeatures

    net = copy.deepcopy(model).eval()
    for module in list(net.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in zip(names, names[1:]):
                _fold_pair(module, a, b)
        elif isinstance(module, (BasicBlock, Bottleneck, ResNetFeatures)):
            for i in (1, 2, 3):
                _fold_pair(module, f"conv{i}", f"bn{i}")
    return net
