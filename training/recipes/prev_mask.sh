#!/bin/bash
# The previous-mask input (RITM's; ModelSpec.prev_mask) trained from the shipped 5-channel model (2026-12-05,
# 2 CPU cores). The sixth channel starts with zero weights, so step 0 predicts exactly as the shipped model;
# the corrective rounds of --iterative fill it with the model's own prediction before each round's click, as the
# predictor feeds back the prediction of the clicks without the last one. The options are those of the shipped
# model's last stage (runs/real3, the annotator's 512-px scale) except the learning rate: 2e-5 for the trained
# body, the new channel at an effective 25x (models.fcn.PREV_GAIN). runs/prev3 (2026-12-05, 1,254 steps): the
# channel was not yet used and the model was not shipped (MODEL_CARD); on a GPU: gpu_session.sh with EXTRA.
# runs/ is git-ignored; stop with SIGTERM (last.pt is saved), continue with RESUME=--resume.
# Then measure before shipping: held-out choice set `ifcn noc --data $D/<source> --split val --limit 50 --refine
# --checkpoint runs/prev3/last.pt` (and --no-brs: the network alone), then `make bench BENCH_DATA=...`.
set -euo pipefail
D=${D:-../shared/data/train}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/prev3}
nice -n 5 "$PY" -m models.cli train --data $D/coco_train2017:0.45 --data $D/clothing_co_parsing:0.35 \
  --data $D/camvid:0.2 --out "$OUT" --init-checkpoint resources/weights/default.pt --prev-mask \
  --batch-size 8 --crop-size 384 --base-size 512 --scale-min 0.7 --scale-max 1.3 --lr 2e-5 --epochs 1000 \
  --max-steps 6000 --val-limit 160 --val-every 300 --val-clicks 3 --workers 1 --seed 11 --iterative 8 --progress-json \
  --progress-every 10 --no-bar ${RESUME:-}
