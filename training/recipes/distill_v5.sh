#!/bin/bash
# v5 itself as the student of v5 and kd1 (MODEL_CARD, "v5 itself distilled towards v5 and kd1"). Every student
# so far started outside v5's basin (kd1 from in1, l2kd1 from ImageNet) and tied v5 on the network alone while losing
# what f-BRS, edge snapping and colour refinement add to v5 (twenty-first session); the mean logits of v5 and
# kd1.pt gain 0.58 clicks per held-out object on the network alone. Here v5 is continued with its own members'
# recipe (continue_default.sh: 384-px crops at the 512-px scale, --iterative 8, half of the items zoomed in; no
# click weighting, no colour jitter, no copy-paste) plus distillation towards the pair's mean logits, so that the
# student stays in v5's basin. Environment: OUT (runs/v5kd1), LR (3e-5), A (0.5), SEED (46), TEACHERS (v5 and
# kd1.pt), INIT (v5), STUDENT_AUG (--zoom-prob 0.5), RESUME=--resume to continue, and continue_default.sh's; the
# distillation itself is distill_in1.sh's (AREA too). runs/ is git-ignored; stop with SIGTERM (last.pt is saved).
# runs/v5kd1 (MODEL_CARD, twenty-second session) ran these defaults to step 1,008: step 750 tied v5 on the choice
# set (+0.25 as the annotator runs it), gained on the held-out objects past the choice set (-0.37,
# training/recipes/fresh_compare.py) and lost on both benchmarks; not shipped. Continued to step 1,290 in the
# twenty-third session and stopped: the pair it distils from ties v5 on the benchmarks as the annotator runs it
# (MODEL_CARD, "the pair v5 + kd1 through the annotator's pipeline").
set -euo pipefail
TEACHERS=${TEACHERS:-"resources/weights/default.pt training/checkpoints/kd1.pt"} OUT=${OUT:-runs/v5kd1} \
  LR=${LR:-3e-5} SEED=${SEED:-46} INIT=${INIT:-resources/weights/default.pt} ITER=${ITER:-8} \
  STUDENT_AUG=${STUDENT_AUG:-"--zoom-prob 0.5"} exec bash "$(dirname "$0")/distill_in1.sh"
