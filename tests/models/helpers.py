"""Small builders shared by the models tests."""
import torch

from models.fcn import build_ifcn
from models.spec import ModelSpec


def random_model(backbone: str = "resnet18", stride: int = 8, seed: int = 0):
    """A tiny-input iFCN with every weight random (score layers included, so outputs vary)."""
    torch.manual_seed(seed)
    net = build_ifcn(ModelSpec(backbone=backbone, stride=stride))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("score"):
                p.normal_(0, 0.05)
    return net.eval()


def rewritten_checkpoint(src, dst, edit):
    """Write `dst`: the checkpoint `src` with `edit(raw_dict)` applied to its stored dict (hostile-file tests)."""
    import io

    raw = torch.load(src, weights_only=True)
    edit(raw)
    buf = io.BytesIO()
    torch.save(raw, buf)
    dst.write_bytes(buf.getvalue())
    return dst
