"""Thread pools on few cores: keep BLAS's own pool out of the way of PyTorch's.

numpy, SciPy and OpenCV each load an OpenBLAS with its own worker threads (as many as cores). After a BLAS
call, and whenever its thread count is raised again, those workers spin waiting for work; on a 2-core machine
the next PyTorch operation then waits for a core held by a spinning thread. Measured on the NoC oracle's
correction sequences (2-core Intel Xeon): after f-BRS's L-BFGS (SciPy, BLAS on vectors of ~1,000 parameters)
the FCN head's next pass took 25-95 ms instead of 2 ms on about one click in three. Limiting BLAS to one thread
only around the optimisation was not enough (raising the count back restarts the spinning workers); one thread
for the whole process removed every stall (benchmarks/RESULTS.md, "Click latency on real correction sequences").
The predictor's numpy work is elementwise or tiny, so BLAS loses nothing by it; PyTorch's own pool (MKL, OpenMP)
and the engines' are not touched.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import torch

log = logging.getLogger(__name__)

_limited = False


def _blas_controller():
    """threadpoolctl's controller of the BLAS libraries loaded now; None when threadpoolctl is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # an install from before the dependency: the stalls above stay
        return None
    return ThreadpoolController().select(user_api="blas")


def limit_blas_threads() -> None:
    """Run every BLAS library loaded now (numpy's, SciPy's, OpenCV's OpenBLAS) on the calling thread only, for
    the rest of the process. Done once, when the first CPU predictor is built (`models.predictor.Predictor`);
    libraries loaded later keep their default."""
    global _limited
    if _limited:
        return
    _limited = True
    controller = _blas_controller()
    if controller is None:
        log.info("threadpoolctl is not installed: BLAS keeps its own thread pool")
        return
    controller.limit(limits=1)


def blas_threads() -> list[int]:
    """The thread count of each BLAS library loaded now (for tests and diagnostics)."""
    controller = _blas_controller()
    return [] if controller is None else [int(lib.num_threads) for lib in controller.lib_controllers]


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's CPU ops on `n` intra-op threads inside the block (restored after)."""
    old = torch.get_num_threads()
    if old == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
