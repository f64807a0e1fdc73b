"""models.threads: BLAS kept on one thread in a process that runs a CPU predictor."""
from __future__ import annotations

import pytest

from models import threads


def test_a_cpu_predictor_leaves_blas_on_one_thread(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from models.predictor import Predictor

    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    blas.limit(limits=2)  # as on a 2-core machine without OMP_NUM_THREADS (the test run may set it to 1)
    monkeypatch.setattr(threads, "_limited", False)  # as in a fresh process
    assert all(n == 2 for n in threads.blas_threads())
    Predictor.load("grabcut")  # any CPU predictor, the classical one included
    counts = threads.blas_threads()
    assert counts, "numpy's BLAS should be found"
    assert all(n == 1 for n in counts)
    Predictor.load("grabcut")  # once per process: a second predictor changes nothing
    assert threads.blas_threads() == counts


def test_torch_threads_restores_the_count():
    import torch

    before = torch.get_num_threads()
    with threads.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
