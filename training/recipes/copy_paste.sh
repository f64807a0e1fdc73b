#!/bin/bash
# The shipped model continued with copy-paste augmentation (`ifcn train --paste-prob`, training.copy_paste; Simple
# Copy-Paste, Ghiasi et al. 2021): half of the items get an object of another training photo pasted on, so the 1,441
# photos make new scenes. The question: does it stop the held-out drift every continuation of v4/v5 on the CPU has
# shown (MODEL_CARD), i.e. is that drift the model learning the few photos? Zoomed-in views as in v5's members.
# Every validation's model is kept (--snapshots) for `ifcn average` with the default; measure them with
# training/recipes/heldout_choice.sh. Stop with SIGTERM; RESUME=--resume continues runs/paste1.
set -euo pipefail
OUT=${OUT:-runs/paste1} LR=${LR:-5e-5} SEED=${SEED:-21} \
  AUG="--zoom-prob 0.5 --paste-prob ${PASTE:-0.5} --snapshots" \
  exec bash "$(dirname "$0")/continue_default.sh"
