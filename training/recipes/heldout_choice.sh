#!/bin/bash
# The choice set of this project's model and inference decisions (resources/weights/MODEL_CARD.md): 150 held-out
# objects of each training source (their --split val; coco's has 143), as the annotator runs it (`ifcn noc
# --refine`), the three sources in parallel (about 8 minutes on 2 CPU cores), then `ifcn compare` against BASE.
#   bash training/recipes/heldout_choice.sh TAG [CHECKPOINT] [more `ifcn noc` options...]
# writes runs/eval/TAG/<source>/ (summary.json, per_object.csv). Environment: D (the training photos, default
# ../shared/data/train), BASE (a runs/eval/<tag> folder to compare with, e.g. the shipped default's), LIMIT (150),
# PY, REFINE (default --refine; REFINE= leaves colour refinement off), RUN (the command before `noc`, default
# "$PY -m models.cli"; ensemble_noc.py's usage says how to measure several models' mean), MIN_AREA (objects of
# fewer pixels left out: `LIMIT=1000 MIN_AREA=9216` is the large-object set, every held-out object as large as
# most of the benchmarks' (171: clothing 112, coco 43, camvid 16); MODEL_CARD, twenty-third session). runs/ is
# git-ignored.
set -euo pipefail
TAG=${1:?usage: heldout_choice.sh TAG [CHECKPOINT] [ifcn noc options...]}; shift
CKPT=()
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then CKPT=(--checkpoint "$1"); shift; fi
D=${D:-../shared/data/train}
PY=${PY:-.venv/bin/python}
LIMIT=${LIMIT:-150}
REFINE=${REFINE---refine}
RUN=${RUN:-"$PY -m models.cli"}
mkdir -p runs/eval
pids=()
for S in clothing_co_parsing coco_train2017 camvid; do
  OMP_NUM_THREADS=1 nice -n 5 $RUN noc --data "$D/$S" --split val --limit "$LIMIT" $REFINE \
    ${MIN_AREA:+--min-area "$MIN_AREA"} \
    "${CKPT[@]}" "$@" --out "runs/eval/$TAG/$S" > "runs/eval/$TAG.$S.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ $status -eq 0 ] || { echo "a NoC run failed: see runs/eval/$TAG.*.log" >&2; exit 1; }
tail -n 3 runs/eval/$TAG.*.log | grep -v '^$' || true
if [ -n "${BASE:-}" ]; then "$PY" -m models.cli compare "$BASE" "runs/eval/$TAG" --by-size; fi
