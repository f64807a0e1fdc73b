"""Training an FCN-4s (`ifcn train --stride 4`) from an FCN-8s checkpoint."""
import numpy as np
import pytest

from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import IFCNError
from models.fcn import build_ifcn
from models.spec import ModelSpec
from tests.models.helpers import random_model


def test_train_stride4_from_an_fcn8_checkpoint_and_resume(synthetic_devkit, tmp_path):
    """`ifcn train --stride 4 --init-checkpoint <FCN-8s>` trains the new stride-4 layer; the run resumes as FCN-4s;
    a VGG checkpoint is refused with a message."""
    from training.train import TrainConfig, train

    def cfg(out, **kw):
        return TrainConfig(**{**dict(voc_root=str(synthetic_devkit), out=str(out), mode="random", batch_size=2,
                                     crop_size=64, workers=0, device="cpu", max_steps=2, epochs=1000, val_limit=2,
                                     seed=3, show_bar=False), **kw})

    save_checkpoint(tmp_path / "init.pt", random_model("efficientnet_lite0", stride=8))
    res = train(cfg(tmp_path / "run", init_checkpoint=str(tmp_path / "init.pt"), stride=4, lr=1e-3))
    assert res.status == "completed" and all(np.isfinite(res.losses))
    model = load_checkpoint(res.last_path).model
    assert model.spec.stride == 4 and model.score4.weight.abs().max() > 0  # trained, not left at zero
    again = train(cfg(tmp_path / "run", resume=True, stride=4, max_steps=3))
    assert again.status == "completed" and again.steps == 3
    plain = train(cfg(tmp_path / "plain", init_checkpoint=str(tmp_path / "init.pt")))
    assert plain.status == "completed" and load_checkpoint(plain.last_path).model.spec.stride == 8
    with pytest.raises(IFCNError, match="without --stride 4"):
        train(cfg(tmp_path / "plain", resume=True, stride=4, max_steps=3))
    save_checkpoint(tmp_path / "vgg.pt", build_ifcn(ModelSpec(backbone="vgg16", stride=8)))
    with pytest.raises(IFCNError, match="--stride 4"):
        train(cfg(tmp_path / "run_vgg", init_checkpoint=str(tmp_path / "vgg.pt"), stride=4))
