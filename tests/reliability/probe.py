"""Child process of the hostile-corpus tests: one reader on each file, its peak memory and time.

    python -m tests.reliability.probe KIND=FILE...     (KIND: checkpoint, meta, image, mask)

prints one JSON line per argument: reader, file, outcome ("refused", "read" or "crashed"), message,
peak_mb (the peak resident memory above what the process held just before the call) and seconds.
Linux only: the peak is reset before each call through /proc/self/clear_refs.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any, Callable


def _status(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> float:
    """Reset the peak-RSS mark to now; returns the current RSS in MB."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def peak_mb() -> float:
    """The peak RSS (MB) since the last reset_peak()."""
    return _status("VmHWM")


def readers() -> dict[str, Callable[[str], Any]]:
    """The project's readers of untrusted files, by kind (imported lazily: images need no torch)."""
    def checkpoint(p: str) -> Any:
        from models.checkpoint import load_checkpoint
        return load_checkpoint(p)

    def meta(p: str) -> Any:
        from models.checkpoint import read_meta
        return read_meta(p)

    def image(p: str) -> Any:
        from models.fileio import read_image
        return read_image(p)

    def mask(p: str) -> Any:
        from models.fileio import read_index_png
        return read_index_png(p)
    return {"checkpoint": checkpoint, "meta": meta, "image": image, "mask": mask}


def main(argv: list[str]) -> int:
    from models.errors import IFCNError

    jobs = [arg.split("=", 1) for arg in argv]
    read = readers()
    for kind in {kind for kind, _ in jobs}:
        try:
            read[kind]("")  # imports the reader's modules before the first measurement
        except Exception:  # noqa: BLE001
            pass
    for kind, path in jobs:
        base = reset_peak()
        t = time.perf_counter()
        try:
            result = read[kind](path)
            outcome, message = "read", ""
        except IFCNError as e:
            outcome, message = "refused", str(e)
        except BaseException as e:  # noqa: BLE001 (what the tests look for)
            outcome, message = "crashed", "".join(traceback.format_exception(e))
        result = None  # noqa: F841 (freed before the next call)
        print(json.dumps({"reader": kind, "file": path, "outcome": outcome, "message": message,
                          "peak_mb": round(peak_mb() - base, 1),
                          "seconds": round(time.perf_counter() - t, 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
