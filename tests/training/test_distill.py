"""`ifcn train --teacher CKPT ... --distill-weight A`: frozen teachers' mean prediction as a soft target."""
from __future__ import annotations

import argparse

import pytest
import torch
import torch.nn.functional as F

from models.checkpoint import load_checkpoint, save_checkpoint
from models.errors import CheckpointError, IFCNError
from models.fcn import build_ifcn
from models.spec import ModelSpec
from tests.training.test_layouts import simple_folder
from tests.training.test_train import BACKBONE, _tiny_batch
from training.distill import Teachers
from training.step import masked_bce
from training.train import TrainConfig, add_arguments, config_from_args, train, train_step

CPU = torch.device("cpu")


def _perturbed(seed: int, **spec) -> torch.nn.Module:
    """A model in eval mode whose logits are not 0 everywhere (a new model's head starts at zero)."""
    torch.manual_seed(seed)
    model = build_ifcn(ModelSpec(backbone=BACKBONE, **spec), weights=None).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _saved(path, seed: int, **spec) -> tuple[str, torch.nn.Module]:
    save_checkpoint(path, _perturbed(seed, **spec))
    return str(path), load_checkpoint(path).model.eval()


def test_the_target_is_the_sigmoid_of_the_teachers_mean_logits(tmp_path):
    (pa, a), (pb, b) = _saved(tmp_path / "a.pt", 1), _saved(tmp_path / "b.pt", 2)
    x = _tiny_batch()["input"]
    teachers = Teachers([pa, pb], ModelSpec(backbone=BACKBONE), CPU)
    teachers.amp_dtype = None  # exact arithmetic for the comparison (bf16 is a speed choice of the CPU)
    with torch.no_grad():
        la, lb = a(x), b(x)
    assert not torch.allclose(la, lb, atol=1e-3)
    got = teachers(x)
    assert got.shape == (2, 1, 64, 64) and got.dtype == torch.float32
    torch.testing.assert_close(got, torch.sigmoid((la + lb) / 2), atol=2e-5, rtol=1e-4)
    teachers.amp_dtype = torch.bfloat16  # under bf16 autocast (where the CPU has it) the target stays close
    assert (teachers(x) - got).abs().max() < 0.05


def test_a_teacher_reading_another_input_is_refused(tmp_path):
    path, _ = _saved(tmp_path / "t.pt", 0, clamp=128.0)
    with pytest.raises(IFCNError, match=r"clamp 128.0 \(student 255.0\)"):
        Teachers([path], ModelSpec(backbone=BACKBONE), CPU)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        Teachers([str(tmp_path / "bad.pt")], ModelSpec(backbone=BACKBONE), CPU)
    with pytest.raises(IFCNError, match="at least one"):
        Teachers([], ModelSpec(backbone=BACKBONE), CPU)


def test_the_step_mixes_the_mask_loss_and_the_teachers_by_the_weight():
    batch = _tiny_batch()
    net = _perturbed(0)  # in eval mode: the same logits at each forward
    soft = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = net(batch["input"])
    gt, toward = masked_bce(logits, batch["target"], batch["ignore"]), masked_bce(logits, soft, batch["ignore"])
    assert abs(float(gt - toward)) > 1e-3
    for a in (0.25, 1.0):
        opt = torch.optim.SGD(net.parameters(), lr=0.0)
        got = train_step(net, opt, batch, CPU, teacher=lambda x: soft, distill=a)
        assert got == pytest.approx(float((1 - a) * gt + a * toward), rel=1e-5)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    assert train_step(net, opt, batch, CPU, teacher=None, distill=0.5) == pytest.approx(float(gt), rel=1e-5)


def test_distilled_steps_move_the_student_towards_its_teacher(tmp_path):
    path, teacher = _saved(tmp_path / "t.pt", 5)
    teachers = Teachers([path], ModelSpec(backbone=BACKBONE), CPU)
    teachers.amp_dtype = None
    batch = _tiny_batch()
    torch.manual_seed(0)
    student = build_ifcn(ModelSpec(backbone=BACKBONE), weights=None).train()
    opt = torch.optim.Adam(student.parameters(), lr=3e-3)

    def gap() -> float:
        student.eval()
        with torch.no_grad():
            d = F.l1_loss(torch.sigmoid(student(batch["input"])), teachers(batch["input"]))
        student.train()
        return float(d)

    before = gap()
    for _ in range(16):
        train_step(student, opt, batch, CPU, teacher=teachers, distill=1.0)
    after = gap()
    assert after < 0.6 * before, (before, after)  # 0.052 -> 0.023 here


def test_the_options_reach_the_config_the_run_and_its_metadata(tmp_path):
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--data", "x", "--out", "y", "--teacher", "a.pt", "--teacher", "b.pt",
                                         "--distill-weight", "0.3"]))
    assert cfg.teachers == ("a.pt", "b.pt") and cfg.distill_weight == 0.3
    plain = config_from_args(p.parse_args(["--data", "x", "--out", "y"]))
    assert plain.teachers == () and plain.distill_weight == 0.5
    with pytest.raises(IFCNError, match="--distill-weight must lie"):
        train(TrainConfig(voc_root=None, out=str(tmp_path / "bad"), data=(str(tmp_path),), show_bar=False,
                          teachers=("a.pt",), distill_weight=1.5))

    teacher, _ = _saved(tmp_path / "t.pt", 7, mean=(0.5,) * 3, std=(0.5,) * 3)  # a trained EfficientNet-Lite's
    data = simple_folder(tmp_path / "objects", 6, seed=1)
    run = tmp_path / "run"
    result = train(TrainConfig(voc_root=None, out=str(run), data=(str(data),), backbone=BACKBONE, weights=None,
                               crop_size=64, batch_size=2, max_steps=2, workers=0, device="cpu", val_limit=2,
                               show_bar=False, teachers=(teacher,), distill_weight=0.4))
    assert result.status == "completed" and result.steps == 2
    assert all(v == v for v in result.losses)  # finite
    meta = load_checkpoint(run / "last.pt").meta["training"]
    assert meta["teachers"] == [teacher] and meta["distill_weight"] == 0.4
