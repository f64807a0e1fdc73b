#!/bin/bash
# Distillation of two networks from different basins into one (MODEL_CARD, "Distillation"): the shipped v5
# (descended from synthetic composites) and the from-ImageNet run's committed export (training/checkpoints/in1.pt,
# imagenet_real.sh at step 5,070) tie on the network alone, and their mean logits need 0.45 fewer clicks per
# held-out object at 90 % than v5 (2.6 standard errors, 443 objects); running both in the annotator would double
# the click latency. The student starts from in1.pt and trains with imagenet_real.sh's data, crops and
# augmentations on (1 - A) x the loss towards the masks + A x the BCE towards the teachers' mean prediction on the
# same input (`ifcn train --teacher ... --distill-weight A`; training.distill). The teachers run under bf16
# autocast where the CPU has it. Environment: OUT (runs/kd1), LR (5e-5), A (0.5), SEED (42), TEACHERS (v5 and
# in1.pt), INIT (in1.pt; INIT=imagenet with BACKBONE starts from ImageNet weights), RESUME=--resume to continue,
# and continue_default.sh's. runs/ is git-ignored; stop with SIGTERM (last.pt is saved). runs/kd2 (MODEL_CARD,
# eighteenth session) continued kd1 with TEACHERS="resources/weights/default.pt training/checkpoints/kd1.pt"
# INIT=training/checkpoints/kd1.pt SEED=43 OUT=runs/kd2, LR=2e-5 then 1e-5: it tied with its start. runs/l2kd1
# (MODEL_CARD, nineteenth session) trains a larger student from ImageNet towards the same pair:
# TEACHERS="resources/weights/default.pt training/checkpoints/kd1.pt" INIT=imagenet BACKBONE=efficientnet_lite2
# LR=3e-4 SEED=44 OUT=runs/l2kd1; training/checkpoints/l2kd1.pt (its step 4,250, a tie with v5 on the network
# alone) continues it with INIT=.
# AREA=P adds `--area-power P` (small objects drawn more often); runs/l2sm1 (MODEL_CARD, twenty-first session)
# continued l2kd1.pt with AREA=0.25 SEED=45 LR=5e-5, then 2e-5: a tie with its start.
# STUDENT_AUG replaces the student's own augmentations (distill_v5.sh: v5's members' recipe).
set -euo pipefail
TEACHERS=${TEACHERS:-"resources/weights/default.pt training/checkpoints/in1.pt"}
T=()
for t in $TEACHERS; do T+=(--teacher "$t"); done
OUT=${OUT:-runs/kd1} LR=${LR:-5e-5} SEED=${SEED:-42} INIT=${INIT:-training/checkpoints/in1.pt} ITER=${ITER:-3} \
  MAX_STEPS=${MAX_STEPS:-60000} VAL_EVERY=${VAL_EVERY:-250} \
  AUG="${STUDENT_AUG:-"--zoom-prob 0.5 --colour-prob 0.75 --paste-prob 0.5 --click-weight 5 --click-radius 10"} \
--snapshots ${T[*]} --distill-weight ${A:-0.5}${AREA:+ --area-power $AREA}" \
  exec bash "$(dirname "$0")/continue_default.sh"
