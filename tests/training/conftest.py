"""Fixtures shared by the training tests: a tiny synthetic VOC devkit, written once per session."""
from pathlib import Path

import pytest

from training.synthetic import write_synthetic_devkit


@pytest.fixture(scope="session")
def synthetic_devkit(tmp_path_factory) -> Path:
    """Root (VOCdevkit/) of an 8-image 96x128 synthetic devkit: train = 4 images, val = 4 images.

    Shared by the whole session: tests must not modify it (copy it first, see `devkit_copy`).
    """
    return write_synthetic_devkit(tmp_path_factory.mktemp("synth"), n_images=8, seed=0, size=(96, 128))


@pytest.fixture
def devkit_copy(synthetic_devkit, tmp_path) -> Path:
    """A private, modifiable copy of the synthetic devkit (for tests that break files)."""
    import shutil

    dst = tmp_path / "VOCdevkit"
    shutil.copytree(synthetic_devkit, dst)
    return dst
