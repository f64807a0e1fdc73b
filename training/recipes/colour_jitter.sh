#!/bin/bash
# The shipped model continued with RITM's photometric augmentation (2026-12-06, 2 CPU cores): each training item
# gets, with probability 0.75 each (RITM's), brightness +-25 % / contrast +-15 % and a shift of each colour
# channel by up to 10 grey levels (`--colour-prob 0.75`, `training.augment.photometric`). Every continuation of
# v4 on these 1,441 photos at lr 5e-5 drifted (held-out IoU after 3 clicks 0.68 -> 0.64 in 800 steps, runs/zoom1):
# this recipe tests whether the photos, shown in more colours, let it learn longer. Other options: as
# training/recipes/zoom_crops.sh without zoomed views (v4's last stage, runs/real3: 384-px crops, --base-size 512,
# --iterative 8), best.pt chosen by the IoU after 3 oracle corrective clicks (v4: 0.687).
# runs/ is git-ignored; stop with SIGTERM (last.pt is saved), continue with RESUME=--resume.
# Then measure before shipping, on the held-out choice set as the annotator runs it:
#   ifcn noc --data $D/<source> --split val --limit 50 --refine --checkpoint $OUT/best.pt
set -euo pipefail
OUT=${OUT:-runs/colour1} AUG="--colour-prob 0.75" SEED=13 exec bash "$(dirname "$0")/continue_default.sh"
