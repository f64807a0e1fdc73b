"""NoC evaluation throughput (`training.noc.evaluate`) with a ResNet-18 FCN-8s predictor, in clicks per second,
with the share of the time spent in the predictor and in the oracle / IoU bookkeeping.

    python -m benchmarks.bench_noc
"""
from __future__ import annotations

import time

from benchmarks.bench_pairs import voc_train_sized_devkit
from benchmarks.common import Section, Target, busy_note, cause, reps, torchvision_model
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
    per_click = pred.seconds / max(1, res.predictions) * 1000
    sec.targets.append(Target("NoC evaluation throughput, ResNet-18 FCN-8s", "≥ 10 clicks/s",
                              f"{rate:.1f} clicks/s", rate >= 10, "" if rate >= 10 else cause(
                                  f"{pred.seconds / res.seconds * 100:.0f} % of the time is the predictor "
                                  f"({per_click:.0f} ms per click): bound by the ResNet-18 latency", busy_note())))
    sec.seconds = time.perf_counter() - t0
    return sec


if __name__ == "__main__":
    print(run().markdown())
