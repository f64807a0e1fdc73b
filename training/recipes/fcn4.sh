#!/bin/bash
# The shipped model (FCN-8s) made FCN-4s (`ifcn train --stride 4`: a score layer on the backbone's stride-4
# features, starting at zero, fused like FCN's others) and continued on the real photos as v5's members were
# (zoomed-in views, `--zoom-prob 0.5`). The question: the annotator's failures are small objects whose IoU stalls
# at 0.83-0.89; seen through the zoomed crop, an ideal stride-8 logit map (the ground truth area-averaged to the
# network's output grid and upsampled bilinear) reaches a mean IoU of 0.92 on Berkeley's failed small objects and
# 0.77 on the held-out camvid ones, a stride-4 map 0.98 / 0.93 (MODEL_CARD, "FCN-4s"). Every validation's model is
# kept (--snapshots) for measuring with training/recipes/heldout_choice.sh and the network-alone choice set.
# Stop with SIGTERM; RESUME=--resume continues runs/fcn4.
set -euo pipefail
OUT=${OUT:-runs/fcn4} LR=${LR:-3e-5} SEED=${SEED:-41} \
  AUG="--zoom-prob 0.5 --stride 4 --snapshots ${EXTRA:-}" \
  exec bash "$(dirname "$0")/continue_default.sh"
