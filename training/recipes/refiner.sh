#!/bin/bash
# The learned refiner (models.refiner) of the shipped model, as it was made (2026-12-05, 2 CPU cores).
# runs/ is git-ignored: the states hold research-only photos and are never committed.
#
# 1. States: the shipped model (network + f-BRS, no snapping) along the NoC oracle's clicks on the training
#    split of the real photos (the held-out 10 % by stem hash are left out, as for the network). Two processes,
#    one per core; resumable (done images are skipped). The pack of 2026-12-05 was stopped after 19 min at 719
#    photos (3,412 objects; sources interleaved), which is what the shipped refiner saw.
# 2. Training: 2,500 steps of 16 crops of 256 px around the objects' boundaries, sampled by source, on the
#    edge-snapped probabilities (--input snapped: the refiner corrects the guided filter's result; refining the
#    raw probability instead, runs/refiner1, lost the precise states and held-out NoC; --input colour, after
#    colour refinement, runs/refiner3, tied; see the model card: none of the three is shipped).
# 3. Export: the shipped network's weights unchanged, the refiner attached (spec.extra["refiner"]).
# Then measure before shipping: `ifcn noc --data $D/<source> --split val --limit 50 --refine` (held-out choice
# set) with and without --no-learned-refiner, and `make bench BENCH_DATA=../shared/data/bench`.
set -euo pipefail
D=${D:-../shared/data/train}
PY=${PY:-.venv/bin/python}
STEPS=${STEPS:-2500}
for s in 0 1; do
  OMP_NUM_THREADS=1 nice -n 5 "$PY" -m models.cli refiner-pack --data $D/coco_train2017 \
    --data $D/clothing_co_parsing --data $D/camvid --out runs/refpack --shard $s --shards 2 &
done
wait
nice -n 5 "$PY" -m models.cli train-refiner --pack runs/refpack --out runs/refiner2 --steps "$STEPS" \
  --lr 1e-3 --input snapped --weights coco_train2017:0.45,clothing_co_parsing:0.35,camvid:0.2 --threads 2 \
  ${RESUME:-}
"$PY" -m models.cli export --checkpoint resources/weights/default.pt --refiner runs/refiner2/best.pt \
  --out runs/refiner2/model.pt
