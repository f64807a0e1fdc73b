#!/bin/bash
# The shipped model continued on the real photos with the options of v4's last stage (runs/real3: 384-px crops at
# the annotator's 512-px scale, --iterative 8), best.pt chosen by the IoU after 3 oracle corrective clicks, plus the
# augmentation AUG. Shared by zoom_crops.sh (AUG="--zoom-prob 0.5", seed 12) and colour_jitter.sh
# (AUG="--colour-prob 0.75", seed 13), whose comments say what each tests; their runs started from v4, the default
# then (v5 is the mean of some of their checkpoints, MODEL_CARD "v5").
# Environment: OUT (run folder), LR, AUG, SEED, RESUME=--resume to continue, D (the training photos), PY,
# INIT (the checkpoint to continue; the shipped default unless set; INIT=imagenet starts an EfficientNet-Lite FCN-8s
# from ImageNet weights instead, imagenet_real.sh; BACKBONE picks the variant it starts, efficientnet_lite0 unless
# set), ITER (corrective clicks per batch, 8), MAX_STEPS (6000), VAL_EVERY (200).
# runs/ is git-ignored; stop with SIGTERM (last.pt is saved).
set -euo pipefail
D=${D:-../shared/data/train}
PY=${PY:-.venv/bin/python}
: "${OUT:?set OUT, the run folder}" "${AUG:?set AUG, the augmentation options}" "${SEED:?set SEED}"
LR=${LR:-5e-5}
INIT=${INIT:-resources/weights/default.pt}
if [ "$INIT" = imagenet ]; then START=(--weights imagenet --backbone "${BACKBONE:-efficientnet_lite0}" --stride 8)
else START=(--init-checkpoint "$INIT"); fi
nice -n 5 "$PY" -m models.cli train --data $D/coco_train2017:0.45 --data $D/clothing_co_parsing:0.35 \
  --data $D/camvid:0.2 --out "$OUT" "${START[@]}" \
  --batch-size 8 --crop-size 384 --base-size 512 --scale-min 0.7 --scale-max 1.3 $AUG --lr $LR \
  --epochs 1000 --max-steps ${MAX_STEPS:-6000} --val-limit 160 --val-every ${VAL_EVERY:-200} --val-clicks 3 \
  --workers 1 --seed $SEED --iterative ${ITER:-8} --progress-json --progress-every 10 --no-bar ${RESUME:-}
