"""The validation IoU of checkpoints, as `ifcn train` measures it (`training.validation.validate`), on the val split
of continue_default.sh (coco, clothing, camvid; 160 objects, 384-px crops at the annotator's 512-px scale) with
zoom_crops.sh's click pairs (seed 12): with the sampled click pair alone and after 3 oracle corrective clicks.
For a checkpoint no training run validated (an `ifcn average` result): `ifcn export --val-iou` records it.

    PYTHONPATH=. .venv/bin/python training/recipes/val_iou.py resources/weights/default.pt runs/v5soup.pt
"""
import sys

import torch
from torch.utils.data import DataLoader

from models.checkpoint import load_checkpoint
from training.train_config import TrainConfig
from training.train_data import make_datasets
from training.validation import validate

D = "../shared/data/train"
for ck in sys.argv[1:]:
    model = load_checkpoint(ck).model.eval()
    cfg = TrainConfig(voc_root=None, out="/tmp/val_iou", crop_size=384, base_size=512, val_limit=160, seed=12,
                      data=(f"{D}/coco_train2017:0.45", f"{D}/clothing_co_parsing:0.35", f"{D}/camvid:0.2"))
    _, val = make_datasets(cfg, model.spec, False)
    loader = DataLoader(val, batch_size=8, shuffle=False)
    (s0, n), (s3, _) = (validate(model, loader, torch.device("cpu"), clicks=c) for c in (0, 3))
    print(f"{ck}: val IoU {s0 / n:.4f} (one click pair), {s3 / n:.4f} after 3 corrective clicks, {n} objects")
