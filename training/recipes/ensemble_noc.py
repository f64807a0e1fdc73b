"""`ifcn noc` with the network replaced by the mean logits of several models (a measurement, not a product mode:
running two networks doubles the click latency). Used to decide whether distilling them into one is worth it
(training/recipes/distill_in1.sh, MODEL_CARD "Distillation"); the mean is `training.distill.Teachers`', the
one the distillation trains towards.

    python training/recipes/ensemble_noc.py A.pt B.pt [...] -- noc --data DIR --no-brs --no-snap --out DIR

The first model is the predictor's (its name in the report); f-BRS must be off (`--no-brs`): it refines one
network's head. With heldout_choice.sh: RUN="python training/recipes/ensemble_noc.py A.pt B.pt --" (its
CHECKPOINT argument left out)."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.checkpoint import read_meta  # noqa: E402
from models.cli import main  # noqa: E402
from models.errors import IFCNError  # noqa: E402
from models.predictor import Predictor  # noqa: E402
from models.spec import ModelSpec  # noqa: E402
from training.distill import Teachers  # noqa: E402


def run(models: list[str], cli: list[str]) -> int:
    if len(models) < 2 or "--no-brs" not in cli:
        raise IFCNError("give two or more checkpoints before --, and --no-brs among the noc options.")
    spec = ModelSpec.from_dict(read_meta(models[0])["spec"])
    mean = Teachers(models, spec, torch.device("cpu"), channels_last=True)
    mean.amp_dtype = None  # measured as the annotator would run them: fp32

    def forward(self: Predictor, rgb: torch.Tensor, clicks, h: int, w: int, prev=None):
        x = self._stack(rgb, clicks, prev)
        return torch.sigmoid(mean.logits(x))[0, 0].cpu().numpy()  # float32, h x w (x is the h x w input)

    single = Predictor._forward
    Predictor._forward = forward
    try:
        return main([*cli, "--checkpoint", models[0]])
    finally:
        Predictor._forward = single


if __name__ == "__main__":
    args = sys.argv[1:]
    cut = args.index("--") if "--" in args else len(args)
    sys.exit(run(args[:cut], args[cut + 1:]))
