#!/bin/bash
# A long run from ImageNet weights on the real photos only, with the augmentations that the model card
# (resources/weights/MODEL_CARD.md) tried on CPU continuations of the default (zoomed-in views, RITM's photometric
# jitter, copy-paste, the click-weighted loss). The issue's other starting point ("from the current default or from
# ImageNet weights, whichever measures better"): v5 descends from a model trained on synthetic composites, and every
# CPU continuation of it stays in that basin. This run is meant to go on across sessions (2-3 h of the 2 cores each;
# RESUME=--resume continues it), and is the from-ImageNet candidate for `training/recipes/gpu_session.sh` (its header
# says how to carry this run there). The data, crops and validation are continue_default.sh's; up to 3 corrective
# clicks per batch (ITER), Adam at 3e-4. Every validation's model is kept (--snapshots); measure candidates with
# training/recipes/heldout_choice.sh and the network alone (`--no-brs --no-snap`), as in MODEL_CARD. runs/ is
# git-ignored; stop with SIGTERM (last.pt is saved). A new machine has no runs/: INIT=<an fp16 export of the run,
# `ifcn export`> continues it from that checkpoint's weights in a new run folder (Adam's state and the step count
# start again; the model card says which committed export to take and at which step it was made).
# Environment: OUT (runs/in1), LR (3e-4), SEED (41), ITER (3), INIT (imagenet here), and continue_default.sh's.
set -euo pipefail
OUT=${OUT:-runs/in1} LR=${LR:-3e-4} SEED=${SEED:-41} INIT=${INIT:-imagenet} ITER=${ITER:-3} \
  MAX_STEPS=${MAX_STEPS:-60000} VAL_EVERY=${VAL_EVERY:-250} \
  AUG="--zoom-prob 0.5 --colour-prob 0.75 --paste-prob 0.5 --click-weight 5 --click-radius 10 --snapshots" \
  exec bash "$(dirname "$0")/continue_default.sh"
