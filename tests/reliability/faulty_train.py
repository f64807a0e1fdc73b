"""`ifcn train` with a fault injected: the process SIGKILLs itself mid-epoch or in the middle of writing last.pt.

    python tests/reliability/faulty_train.py [--die-at-step N] [--die-in-write K] -- <ifcn train options>

--die-at-step N   kill -9 just before optimiser step N runs (steps count from 1, resumed runs included)
--die-in-write K  during the K-th write of last.pt, after its temp file was written, cut the temp file to
                  half its size and kill -9 before it is renamed (a crash in the middle of the write)
Everything else is the real command: models.cli.main(["train", ...]).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    """Install the faults, then run `ifcn train`."""
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser()
    ap.add_argument("--die-at-step", type=int)
    ap.add_argument("--die-in-write", type=int)
    opts = ap.parse_args(argv[:split])
    train_args = argv[split + 1:]

    import training.train_loop as tt  # the loop's own name for train_step

    if opts.die_at_step:
        real_step = tt.train_step
        done = {"n": None}

        def train_step(net, optimizer, *a, **k):
            if done["n"] is None:  # the step counter of a resumed run continues from its checkpoint
                st = optimizer.state_dict()["state"]
                done["n"] = int(next(iter(st.values()))["step"]) if st else 0
            done["n"] += 1
            if done["n"] == opts.die_at_step:
                _die()
            return real_step(net, optimizer, *a, **k)
        tt.train_step = train_step

    if opts.die_in_write:
        real_fsync = os.fsync
        seen = {"n": 0}

        def fsync(fd: int) -> None:
            try:
                name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                name = ""
            if name.startswith(".last.pt.") and name.endswith(".tmp"):
                seen["n"] += 1
                if seen["n"] == opts.die_in_write:
                    os.ftruncate(fd, os.fstat(fd).st_size // 2)
                    _die()
            return real_fsync(fd)
        os.fsync = fsync

    from models.cli import main as cli_main

    return cli_main(["train", *train_args])


if __name__ == "__main__":
    sys.exit(main())
