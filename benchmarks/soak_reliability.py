"""Soak test: hundreds of kill -9 of the annotator mid-work, checking the disk after every one.

    python -m benchmarks.soak_reliability                 # 300 kills (about 10 minutes on 2 cores)
    python -m benchmarks.soak_reliability --kills 50 --json /tmp/soak.json

The same loop as tests/reliability/test_rel_kill.py (which does 16 kills inside `make test`): the real
MainWindow runs offscreen in a child process (tests/reliability/driver.py) through annotate → finish →
switch image → save cycles; it is SIGKILLed after a random delay, and every object it reported saved must
be on disk intact, read back through the annotator's own loader, with no half-written output. Exit code 1
when anything was lost or inconsistent. Not part of `make test` or `make bench`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.killloop import kill_loop, make_image_folder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when nothing was lost."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", type=int, default=6, help="images in the annotated folder")
    ap.add_argument("--write-delay", type=float, default=0.02,
                    help="seconds each atomic rename waits (more kills land mid-save)")
    ap.add_argument("--max-delay", type=float, default=1.5, help="longest run before a kill, seconds")
    ap.add_argument("--folder", help="work folder (default: a new temporary folder)")
    ap.add_argument("--json", help="also write the summary here")
    args = ap.parse_args(argv)
    work = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="ifcn-soak-"))
    folder = make_image_folder(work / "images", n=args.images, seed=args.seed)
    t0 = time.perf_counter()
    every = max(1, args.kills // 20)

    def log(msg: str) -> None:
        k = int(msg.split()[1].split("/")[0])
        if k % every == 0 or k == args.kills:
            print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True)

    s = kill_loop(folder, kills=args.kills, seed=args.seed, delay=(0.05, args.max_delay),
                  write_delay=args.write_delay, log=log)
    seconds = time.perf_counter() - t0
    print(f"\n{s.kills} kills in {seconds:.0f} s ({work}):")
    print(f"  saves confirmed by the annotator   {s.saves_confirmed}")
    print(f"  objects confirmed saved            {s.objects_confirmed}")
    print(f"  kills that landed mid-save         {s.kills_mid_save}")
    print(f"  output files parsed after kills    {s.files_parsed}")
    print(f"  annotations lost                   {s.lost}")
    for p in s.problems[:20]:
        print(f"  PROBLEM: {p}")
    if args.json:
        Path(args.json).write_text(json.dumps({**asdict(s), "seconds": round(seconds, 1)}, indent=1))
    return 1 if (s.lost or s.problems) else 0


if __name__ == "__main__":
    sys.exit(main())
