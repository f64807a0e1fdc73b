"""Training: void-masked loss, a tiny overfit, resume, determinism, run-folder rules."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint
from models.clicks import Click
from models.backbones import BACKBONES
from models.errors import CheckpointError, IFCNError
from models.fcn import build_ifcn
from models.inputs import make_input
from models.spec import ModelSpec
from training.progress import ProgressWriter, parse_line
from training.train import TrainConfig, masked_bce, train, train_step

#: The smallest registered backbone keeps these CPU tests fast.
BACKBONE = "efficientnet_lite0" if "efficientnet_lite0" in BACKBONES else "resnet18"


def test_loss_ignores_void_pixels():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 16, 16, generator=g)
    target = (torch.rand(2, 1, 16, 16, generator=g) > 0.5).float()
    ignore = torch.zeros_like(target)
    ignore[:, :, :4] = 1
    base = masked_bce(logits, target, ignore)
    flipped = target.clone()
    flipped[:, :, :4] = 1 - flipped[:, :, :4]  # change targets only under void
    assert torch.equal(masked_bce(logits, flipped, ignore), base)
    flipped_valid = target.clone()
    flipped_valid[:, :, 8:] = 1 - flipped_valid[:, :, 8:]
    assert not torch.allclose(masked_bce(logits, flipped_valid, ignore), base)
    # mean over valid pixels only, equal to plain BCE on those pixels
    valid = ignore == 0
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits[valid], target[valid])
    assert torch.allclose(base, ref, atol=1e-6)


def _tiny_batch(n: int = 2, size: int = 64) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(0)
    spec = ModelSpec(backbone=BACKBONE)
    inputs, targets = [], []
    for i in range(n):
        rgb = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), bool)
        mask[16 + 4 * i:48, 12:40 + 4 * i] = True
        rgb[mask] += 150
        inputs.append(make_input(rgb, [Click(28, 32, True), Click(4, 4, False)], spec))
        targets.append(mask[None].astype(np.float32))
    target = torch.from_numpy(np.stack(targets))
    return {"input": torch.from_numpy(np.stack(inputs)), "target": target,
            "ignore": torch.zeros_like(target)}


def test_two_training_iterations_lower_the_loss():
    torch.manual_seed(0)
    model = build_ifcn(ModelSpec(backbone=BACKBONE), weights=None).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    batch = _tiny_batch()
    before = train_step(model, opt, batch, torch.device("cpu"))
    train_step(model, opt, batch, torch.device("cpu"))
    after = train_step(model, opt, batch, torch.device("cpu"))  # loss after two updates
    assert after < before - 1e-3


def _config(devkit, out, **kw) -> TrainConfig:
    base = dict(voc_root=str(devkit), out=str(out), backbone=BACKBONE, weights=None, mode="random",
                batch_size=2, crop_size=64, workers=0, device="cpu", max_steps=2, epochs=1000,
                val_limit=2, seed=3, show_bar=False)
    base.update(kw)
    return TrainConfig(**base)


def test_resumed_run_continues_step_count_and_streams_progress(synthetic_devkit, tmp_path):
    run = tmp_path / "run"
    buf = io.StringIO()
    first = train(_config(synthetic_devkit, run), progress=ProgressWriter(True, buf))
    assert first.status == "completed" and first.steps == 2
    events = [parse_line(line) for line in buf.getvalue().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("step") == 2
    assert "val" in kinds and "checkpoint" in kinds
    step_ev = next(e for e in events if e["event"] == "step")
    assert {"step", "epoch", "loss", "lr", "images_per_s", "eta_s"} <= set(step_ev)
    assert events[-1]["status"] == "completed" and events[-1]["steps"] == 2
    loaded = load_checkpoint(run / "last.pt")
    assert loaded.extra["step"] == 2 and "optimizer" in loaded.extra
    assert loaded.meta["training"]["mode"] == "random" and 0.0 <= loaded.meta["val_iou"] <= 1.0
    assert (run / "best.pt").is_file()

    buf2 = io.StringIO()
    second = train(_config(synthetic_devkit, run, max_steps=3, resume=True),
                   progress=ProgressWriter(True, buf2))
    assert second.steps == 3
    start = parse_line(buf2.getvalue().splitlines()[0])
    assert start["step"] == 2 and start["resumed"] is True
    steps = [e["step"] for e in map(parse_line, buf2.getvalue().splitlines()) if e["event"] == "step"]
    assert steps == [3]
    assert load_checkpoint(run / "last.pt").extra["step"] == 3


def test_same_seed_gives_same_weights(synthetic_devkit, tmp_path):
    a = train(_config(synthetic_devkit, tmp_path / "a", max_steps=1, val_split=None))
    b = train(_config(synthetic_devkit, tmp_path / "b", max_steps=1, val_split=None))
    assert a.losses == b.losses
    sa = load_checkpoint(tmp_path / "a" / "last.pt").model.state_dict()
    sb = load_checkpoint(tmp_path / "b" / "last.pt").model.state_dict()
    # equal up to float summation order of multithreaded CPU kernels
    assert all(torch.allclose(sa[k].float(), sb[k].float(), rtol=0, atol=1e-5) for k in sa)
    # no validation data: best.pt is the last state
    assert (tmp_path / "a" / "best.pt").is_file()


def test_run_folder_rules(synthetic_devkit, tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(_config(synthetic_devkit, tmp_path / "r", resume=True))
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "last.pt").write_bytes(b"x")
    with pytest.raises(IFCNError, match="--resume"):
        train(_config(synthetic_devkit, tmp_path / "r"))


def test_stop_event_saves_resumable_state(synthetic_devkit, tmp_path):
    import threading

    ev = threading.Event()
    ev.set()  # stop after the first step
    res = train(_config(synthetic_devkit, tmp_path / "s", max_steps=50, val_split=None), stop_event=ev)
    assert res.status == "stopped" and res.steps == 1
    assert load_checkpoint(tmp_path / "s" / "last.pt").extra["step"] == 1


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="CPU without native bf16")
def test_cpu_bf16_autocast_trains_and_saves_fp32(synthetic_devkit, tmp_path):
    buf = io.StringIO()
    res = train(_config(synthetic_devkit, tmp_path / "amp", amp=True, val_split=None),
                progress=ProgressWriter(True, buf))
    assert res.status == "completed" and all(math.isfinite(v) for v in res.losses)
    loaded = load_checkpoint(tmp_path / "amp" / "last.pt")
    assert loaded.meta["training"]["amp"] is True
    state = loaded.model.state_dict()
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


def test_data_workers_leave_stop_signals_to_the_main_process():
    """A SIGINT/SIGTERM sent to the whole process group must not kill a DataLoader worker (the main
    process would then die of the worker's death instead of saving last.pt)."""
    import signal

    from training.train_runtime import worker_init

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker_init(0)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def test_snapshots_keep_the_model_of_every_validation_for_a_soup(synthetic_devkit, tmp_path):
    """--snapshots: snapshots/step<N>.pt at each validation (the model alone), which `ifcn average` takes."""
    from models.cli import main

    run = tmp_path / "run"
    res = train(_config(synthetic_devkit, run, max_steps=4, val_every=2, snapshots=True))
    assert res.status == "completed"
    snaps = sorted((run / "snapshots").glob("*.pt"))
    assert [p.name for p in snaps] == ["step2.pt", "step4.pt"]
    two, four = (load_checkpoint(p) for p in snaps)
    assert two.meta["steps"] == 2 and four.meta["steps"] == 4 and "optimizer" not in (two.extra or {})
    assert not all(torch.equal(a, b) for a, b in zip(two.model.state_dict().values(),
                                                     four.model.state_dict().values()))
    torch.testing.assert_close(four.model.state_dict(), load_checkpoint(run / "last.pt").model.state_dict())
    assert main(["average", *map(str, snaps), "--out", str(tmp_path / "soup.pt")]) == 0
    train(_config(synthetic_devkit, tmp_path / "plain", max_steps=2, val_every=1))
    assert not (tmp_path / "plain" / "snapshots").exists()  # off by default


def test_the_snapshots_option_reaches_the_training_config():
    import argparse

    from training.train import add_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert config_from_args(p.parse_args(["--voc-root", "x", "--out", "o", "--snapshots"])).snapshots
    assert not config_from_args(p.parse_args(["--voc-root", "x", "--out", "o"])).snapshots
