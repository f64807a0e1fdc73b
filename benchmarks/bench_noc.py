"""NoC evaluation throughput (`training.noc.evaluate`) with a ResNet-18 FCN-8s predictor, in clicks per second,
with the share of the time spent in the predictor and in the oracle / IoU bookkeeping.

    python -m benchmarks.bench_noc
"""
from __future__ import annotations

import time

from benchmarks.bench_pairs import voc_train_sized_devkit
from benchmarks.common import Section, Target, reps, torchvision_model
from models.predictor import Predictor
from training.noc import evaluate
from training.voc import VOCDevkit


class _Timed:
    """Wraps a predictor and adds up the time spent in set_image / predict."""

    def __init__(self, p: Predictor) -> None:
        self.p, self.name, self.seconds = p, p.name, 0.0

    def set_image(self, rgb):
        t0 = time.perf_counter()
        self.p.set_image(rgb)
        self.seconds += time.perf_counter() - t0

    def predict(self, clicks, refine: bool = False):
        t0 = time.perf_counter()
        out = self.p.predict(clicks, refine=refine)
        self.seconds += time.perf_counter() - t0
        return out


def run() -> Section:
    """Clicks/s of the NoC loop on 500×375 images."""
    t0 = time.perf_counter()
    sec = Section("NoC evaluation throughput")
    model, desc = torchvision_model("resnet18")
    pred = _Timed(Predictor(model, device="cpu"))
    voc = VOCDevkit(voc_train_sized_devkit())
    limit = reps(8, 2)
    evaluate(pred, voc, split="train", limit=1, max_clicks=2)  # warm-up
    pred.seconds = 0.0
    res = evaluate(pred, voc, split="train", limit=limit, max_clicks=20)
    rate = res.predictions / res.seconds
    sec.table(["NoC loop (20 clicks max, targets 85/90 %), 500×375", "objects", "clicks", "seconds", "clicks/s",
               "time in predictor"], [
        [desc, len(res.objects), res.predictions, f"{res.seconds:.1f}", f"{rate:.1f}",
         f"{pred.seconds / res.seconds * 100:.0f} %"],
    ])
    sec.notes.append("An untrained network rarely reaches the IoU targets, so nearly every object takes all 20 "
                     "clicks: the most expensive case per object; the rate per click is what matters. Images come "
                     "from the pair-generation devkit.")
    sec.targets.append(Target("NoC evaluation throughput, ResNet-18 FCN-8s", "≥ 10 clicks/s", f"{rate:.1f} clicks/s",
                              rate >= 10))
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    print(run().markdown())
