#!/bin/bash
# Stage-4 training on a lent accelerator machine, as ONE device call (its 15 minutes all tries together).
#
# Prepare here (CPU machine), once per machine; runs/ is git-ignored and never committed (research-only photos):
#   python -m training.pack ../shared/data/train/coco_train2017 ../shared/data/train/clothing_co_parsing \
#       --out runs/pack --longest 512 --quality 85           # ~41 MiB: fits the 64 MiB upload with the repo
#   cp resources/weights/default.pt runs/init.pt             # or a better checkpoint to continue from
# Then call the device tool's run with
#   command: bash training/recipes/gpu_session.sh     carry: ["runs/pack", "runs/init.pt"]     timeout_s: 600
# and copy the returned best.pt / train.log / snapshots/ from its files_at folder into runs/gpu1/ (measure it on the
# choice set before anything else: `bash training/recipes/heldout_choice.sh base` once for the default, then
# `BASE=runs/eval/base bash training/recipes/heldout_choice.sh gpu1 runs/gpu1/best.pt`, which ends with `ifcn compare`;
# average the snapshots with the default, `ifcn average`, and measure that too). CamVid is left out: with it the upload
# is over the limit. Measure each candidate with `--no-snap` too: with a better network, edge snapping before colour
# refinement became a cost (soup G: 0.80 clicks per object fewer without it on the choice set; MODEL_CARD "soup G
# without edge snapping"). To continue the from-ImageNet run of imagenet_real.sh instead of the default: copy its
# committed export, `cp training/checkpoints/in1.pt runs/init.pt`, or export a later one, `ifcn export --checkpoint
# runs/in1/last.pt --out runs/init.pt` (fp16, 6 MB: its last.pt with the optimiser's state would not fit).
#
# Untested on a GPU when written (2026-12-03, no device lent): check the first progress lines in the log.
# EXTRA adds options, e.g. EXTRA="--prev-mask --val-clicks 3" trains RITM's previous-mask input (on 2 CPU cores
# its new weights barely moved in 600 steps, runs/prev2-3, MODEL_CARD: it needs the steps a GPU gives), and
# EXTRA="--zoom-prob 0.5" trains on zoomed-in views as the annotator's zoom-in shows them (runs/zoom1-2 on CPU: a tie),
# and EXTRA="--colour-prob 0.75" adds RITM's photometric augmentation (runs/colour1 on CPU: a tie; with the many
# more steps of a GPU, the 1,441 photos in more colours are the guard against overfitting that RITM uses), and
# EXTRA="--paste-prob 0.5" pastes objects of other photos onto half of the items (runs/paste1 on CPU, 2,208 steps:
# its soups lose on the choice set overall, gain on its large objects; MODEL_CARD "copy-paste"): new scenes for the
# many epochs a GPU gives, and EXTRA="--click-weight 5" weighs the loss near each click 5x (runs/cf1 on CPU,
# 1,802 steps: its soup with v5 needs 0.77 fewer clicks per object with the network alone on the choice set, the
# first CPU run to move the network; a tie as the annotator runs it; MODEL_CARD "corrective clicks weighted").
# A suggested start: EXTRA="--zoom-prob 0.5 --colour-prob 0.75 --paste-prob 0.5 --click-weight 5".
# Distillation (training/recipes/distill_in1.sh, MODEL_CARD "Distillation"): the teachers are tracked files, so
# they travel with the repository: EXTRA="... --teacher resources/weights/default.pt --teacher
# training/checkpoints/in1.pt --distill-weight 0.5" with INIT=training/checkpoints/in1.pt (no copy to runs/ needed).
# The most promising use of a GPU now (MODEL_CARD, nineteenth session): the EfficientNet-Lite2 student,
# INIT=training/checkpoints/l2kd1.pt with EXTRA="... --teacher resources/weights/default.pt --teacher
# training/checkpoints/kd1.pt --distill-weight 0.5" (a tie with v5 after 4,250 CPU steps).
set -uo pipefail
MINUTES=${MINUTES:-8}            # training wall time; the rest of the call is start-up, validation, export
BATCH=${BATCH:-32}
WORKERS=${WORKERS:-14}
DEVICE=${DEVICE:-cuda}          # DEVICE=cpu MINUTES=1 BATCH=2 WORKERS=1 OUT=/tmp/o: a smoke test on a CPU machine
PACK=${PACK:-runs/pack}
INIT=${INIT:-runs/init.pt}
EXTRA=${EXTRA:-}
RUN=/tmp/ifcn_gpu_run
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PY:-python3}
"$PY" - <<'PY'
import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
RESUME=""
[ -f "$RUN/last.pt" ] && RESUME=--resume   # a second call on the same warm machine continues the run
timeout --signal=TERM $((MINUTES * 60)) "$PY" -m models.cli train \
  --data $PACK/coco_train2017:0.55 --data $PACK/clothing_co_parsing:0.45 \
  --out $RUN --init-checkpoint $INIT --device $DEVICE --batch-size $BATCH --workers $WORKERS \
  --crop-size 384 --base-size 512 --scale-min 0.7 --scale-max 1.3 --lr 2e-4 --epochs 10000 --max-steps 100000 \
  --val-limit 300 --val-every 500 --seed 11 --iterative 6 --progress-json --progress-every 50 --no-bar --snapshots \
  $RESUME $EXTRA \
  2>&1 | tee "$OUT/train.log" | grep -v '"event":"step"' | tail -40
grep '"event":"step"' "$OUT/train.log" | tail -3
cp "$RUN/best.pt" "$OUT/best.pt" 2>/dev/null || echo "no best.pt (no validation reached)"
"$PY" -m models.cli export --checkpoint "$RUN/last.pt" --out "$OUT/last_fp16.pt" 2>&1 | tail -2
# every validation's model, fp16 (6 MB each): members for `ifcn average` with the default (MODEL_CARD "v5")
mkdir -p "$OUT/snapshots"
for f in "$RUN"/snapshots/step*.pt; do
  [ -f "$f" ] && "$PY" -m models.cli export --checkpoint "$f" --out "$OUT/snapshots/$(basename "$f")" 2>&1 | tail -1
done
ls -la "$OUT"
