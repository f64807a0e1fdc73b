"""A stand-in for the `ifcn train` child (no torch: starts in a blink): progress JSON lines on stdout,
SIGTERM → writes OUT/last.pt.stopped with the step it reached and exits 130, like `ifcn train`.

    python tests/reliability/fake_train_child.py --out RUN_DIR [anything else is ignored]
"""
import json
import signal
import sys
import time
from pathlib import Path


def main() -> int:
    """Emit steps until stopped."""
    out = Path(sys.argv[sys.argv.index("--out") + 1])
    state = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))

    def emit(**ev):
        print(json.dumps({"time": time.time(), **ev}), flush=True)
    emit(event="start", command="train", run_dir=str(out), step=0, total_steps=10_000, steps_per_epoch=100,
         epochs=100, resumed=False, device="cpu", world_size=1, train_samples=10, val_samples=0, model={})
    step = 0
    while not state["stop"] and step < 10_000:
        time.sleep(0.02)
        step += 1
        emit(event="step", step=step, epoch=0, loss=1.0 / step, lr=1e-3, images_per_s=10.0, eta_s=1.0)
    out.mkdir(parents=True, exist_ok=True)
    (out / "last.pt.stopped").write_text(str(step))
    emit(event="end", status="stopped", steps=step, seconds=1.0, best_val_iou=None)
    return 130


if __name__ == "__main__":
    sys.exit(main())
