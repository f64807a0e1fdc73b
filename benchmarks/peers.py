"""Peer networks on the benchmark's image size: RITM's HRNet-18s-OCR size and SAM ViT-B (random weights).

Used by `benchmarks.bench_latency_real`; a peer whose package is missing is skipped with the reason.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from benchmarks.common import interleaved, reps


class _OCRHead(torch.nn.Module):
    """RITM's HRNet-OCR head at HRNet-18s sizes (ocr_width 48): the four branches upsampled to 1/4 and
    concatenated, a soft object region from an auxiliary head, OCR context attention, a 1-logit classifier."""

    def __init__(self, channels: list[int], mid: int = 96, key: int = 48) -> None:
        super().__init__()
        from torch import nn

        total = sum(channels)
        self.aux = nn.Sequential(nn.Conv2d(total, total, 1), nn.BatchNorm2d(total), nn.ReLU(True),
                                 nn.Conv2d(total, 1, 1))
        self.conv = nn.Sequential(nn.Conv2d(total, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(True))
        self.query = nn.Sequential(nn.Conv2d(mid, key, 1), nn.ReLU(True), nn.Conv2d(key, key, 1), nn.ReLU(True))
        self.keyf = nn.Sequential(nn.Conv2d(mid, key, 1), nn.ReLU(True), nn.Conv2d(key, key, 1), nn.ReLU(True))
        self.value = nn.Sequential(nn.Conv2d(mid, key, 1), nn.ReLU(True))
        self.up = nn.Sequential(nn.Conv2d(key, mid, 1), nn.ReLU(True))
        self.fuse = nn.Sequential(nn.Conv2d(2 * mid, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(True))
        self.cls = nn.Conv2d(mid, 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        import torch.nn.functional as F

        size = feats[0].shape[-2:]
        x = torch.cat([feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False)
                                    for f in feats[1:]], 1)
        aux = self.aux(x)                                                   # (n, 1, h, w) soft region
        x = self.conv(x)
        probs = torch.softmax(torch.cat([aux, -aux], 1).flatten(2), 2)      # object / background regions
        ctx = torch.bmm(probs, x.flatten(2).transpose(1, 2)).transpose(1, 2)[..., None]   # (n, mid, 2, 1)
        q = self.query(x).flatten(2).transpose(1, 2)                        # (n, hw, key)
        k, v = self.keyf(ctx).flatten(2), self.value(ctx).flatten(2).transpose(1, 2)
        att = torch.softmax(torch.bmm(q, k) * k.shape[1] ** -0.5, -1)       # (n, hw, 2)
        obj = self.up(torch.bmm(att, v).transpose(1, 2).reshape(x.shape[0], -1, *x.shape[-2:]))
        return self.cls(self.fuse(torch.cat([obj, x], 1)))


def hrnet_ocr() -> tuple[Callable[[torch.Tensor], torch.Tensor], str] | str:
    """RITM HRNet-18s-OCR-sized network (random weights), or why it is skipped."""
    try:
        import timm
    except ImportError:
        return "timm is not installed (pip install '.[bench]')"
    import torch.nn.functional as F

    torch.manual_seed(0)
    # RITM feeds RGB + 2 click disks + the previous mask; the extra channels only widen the first conv
    backbone = timm.create_model("hrnet_w18_small_v2", pretrained=False, features_only=True, feature_location="",
                                 out_indices=(1, 2, 3, 4), in_chans=6).eval()
    head = _OCRHead(list(backbone.feature_info.channels())).eval()

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return F.interpolate(head(backbone(x)), size=x.shape[-2:], mode="bilinear", align_corners=False)
    return forward, ("HRNet-18-small-v2 + OCR head (timm `hrnet_w18_small_v2`, random weights, 6-channel input "
                     "padded to a multiple of 32)")


def sam_vit_b() -> tuple[Any, str] | str:
    """SAM ViT-B (random weights), or why it is skipped."""
    try:
        from segment_anything import sam_model_registry
    except ImportError:
        return "segment-anything is not installed (pip install '.[bench]')"
    torch.manual_seed(0)
    return sam_model_registry["vit_b"](checkpoint=None).eval(), \
        "SAM ViT-B (segment-anything `sam_model_registry['vit_b']`, random weights)"


def peers(seq: dict[str, Any], default) -> dict[str, Any]:
    """Forward times of our network and the peers on the largest working image size of the run."""
    import torch.nn.functional as F

    h, w = seq["work_size"]
    n = reps(5, 2)
    x5 = torch.randn(1, 5, h, w).contiguous(memory_format=torch.channels_last)
    net = default._net

    def ours():
        with torch.inference_mode():
            torch.sigmoid(net(x5))
    fns: dict[str, Callable[[], Any]] = {"ours": ours}
    out: dict[str, Any] = {"size": f"{w}x{h}", "skipped": {}, "labels": {}}
    hr = hrnet_ocr()
    if isinstance(hr, str):
        out["skipped"]["hrnet"] = hr
    else:
        x6 = torch.randn(1, 6, -(-h // 32) * 32, -(-w // 32) * 32)  # timm's HRNet takes multiples of 32
        fns["hrnet"], out["labels"]["hrnet"] = (lambda: hr[0](x6)), hr[1]
    sam = sam_vit_b()
    if isinstance(sam, str):
        out["skipped"]["sam"] = sam
    else:
        model, out["labels"]["sam"] = sam
        s = 1024 / max(h, w)  # SAM's ResizeLongestSide, then padded to 1024 x 1024
        img = F.pad(torch.randn(1, 3, round(h * s), round(w * s)), (0, 1024 - round(w * s), 0, 1024 - round(h * s)))
        with torch.inference_mode():
            emb = model.image_encoder(img)
        pts = torch.tensor([[[w * s / 2, h * s / 2], [w * s / 4, h * s / 4]]]), torch.tensor([[1, 0]])

        def encoder():
            with torch.inference_mode():
                model.image_encoder(img)

        def decoder():  # one click: prompt encoder, mask decoder, mask upscaled to the image's size
            with torch.inference_mode():
                sparse, dense = model.prompt_encoder(points=pts, boxes=None, masks=None)
                low, _ = model.mask_decoder(image_embeddings=emb, image_pe=model.prompt_encoder.get_dense_pe(),
                                            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                            multimask_output=False)
                model.postprocess_masks(low, (round(h * s), round(w * s)), (h, w))
        fns["sam_decoder"] = decoder
        enc = interleaved({"ours": ours, "sam_encoder": encoder}, reps(3, 1), warmup=1)
        out["sam_encoder_ms"] = enc["sam_encoder"].median
        out["sam_encoder_ours_ms"] = enc["ours"].median
    st = interleaved(fns, n, warmup=1)
    out["ms"] = {k: v.median for k, v in st.items()}
    return out
