#!/bin/bash
# The shipped model continued with the pixels near each click weighted in the loss (`ifcn train --click-weight 5
# --click-radius 10`, training.step.click_weights). The question: the network alone leaves some corrective clicks
# unanswered (its IoU stays flat from one click to the next on the objects it fails, the oracle's next click
# landing beside the last), which the whole-image BCE hardly punishes (a click's neighbourhood is ~0.2 % of a
# 384-px crop); does weighting those neighbourhoods make later clicks count? Zoomed-in views as in v5's members.
# Every validation's model is kept (--snapshots) for `ifcn average` with the default; measure them with
# training/recipes/heldout_choice.sh. Stop with SIGTERM; RESUME=--resume continues runs/cf1.
set -euo pipefail
OUT=${OUT:-runs/cf1} LR=${LR:-3e-5} SEED=${SEED:-31} \
  AUG="--zoom-prob 0.5 --click-weight ${WEIGHT:-5} --click-radius ${RADIUS:-10} --snapshots" \
  exec bash "$(dirname "$0")/continue_default.sh"
