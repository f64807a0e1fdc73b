#!/bin/bash
# The shipped model trained on the clicks a user makes on the annotator's mistakes (2026-12-05, 2 CPU cores):
# --iterative's corrective clicks go where the edge-snapped, colour-refined mask (what the annotator shows) is
# wrong, not where the network's own mask is (`training.iterative.pipeline_mask`). The other options are those
# of the shipped model's last stage (runs/real3, the annotator's 512-px scale) at a lower learning rate (3e-5:
# runs/real5 at 7e-5 drifted), best.pt chosen by the IoU after 3 oracle corrective clicks. runs/pipe1 is this
# recipe's first run (MODEL_CARD, "Corrective clicks on the annotator's mask").
# runs/ is git-ignored; stop with SIGTERM (last.pt is saved), continue with RESUME=--resume.
# Then measure before shipping: held-out choice set `ifcn noc --data $D/<source> --split val --limit 50 --refine
# --checkpoint runs/pipe1/best.pt` (and --no-brs --no-snap: the network alone), then `make bench BENCH_DATA=...`.
set -euo pipefail
D=${D:-../shared/data/train}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/pipe1}
nice -n 5 "$PY" -m models.cli train --data $D/coco_train2017:0.45 --data $D/clothing_co_parsing:0.35 \
  --data $D/camvid:0.2 --out "$OUT" --init-checkpoint resources/weights/default.pt \
  --batch-size 8 --crop-size 384 --base-size 512 --scale-min 0.7 --scale-max 1.3 --lr 3e-5 --epochs 1000 \
  --max-steps 6000 --val-limit 160 --val-every 200 --val-clicks 3 --workers 1 --seed 11 --iterative 8 \
  --iterative-refine --progress-json --progress-every 10 --no-bar ${RESUME:-}
