"""f-BRS-B click enforcement (models.brs) and its use in the Predictor."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.brs import BRS, click_discs, refine_logits
from models.clicks import Click, distance_maps
from models.inputs import normalize_rgb, scale_maps
from models.predictor import Predictor
from tests.models.helpers import random_model


def _input(net, rgb, clicks):
    h, w = rgb.shape[:2]
    maps = scale_maps(distance_maps(clicks, h, w, net.spec.clamp), net.spec)
    return torch.cat([torch.from_numpy(normalize_rgb(rgb, net.spec)), torch.from_numpy(maps)])[None]


def _image(h=72, w=96, seed=0):
    """Noise, dark on the left half and bright on the right (the clicks below fall on different halves)."""
    img = np.random.default_rng(seed).random((h, w, 3)) * 100
    img[:, w // 2:] += 155
    return img.astype(np.uint8)


def test_click_discs():
    pos, neg = click_discs([Click(10, 5, True), Click(-3, 40, False)], 50, 60, radius=2)
    assert pos.sum() == 13 and pos[5, 10] and pos[5, 12] and not pos[5, 13]
    assert neg[40, 0] and neg.sum() == 9  # clipped into the image: a half disc on the left edge
    assert not (pos & neg).any()
    pos, _ = click_discs([Click(10, 5, True)], 50, 60, radius=0)
    assert pos.sum() == 1


def test_click_discs_are_grabcuts_seeds():
    """f-BRS enforces the labels on the same pixels that GrabCut refinement takes as definite."""
    import cv2
    from models import grabcut

    clicks = [Click(10.4, 5.6, True), Click(30.5, 20.49, False)]
    gc = np.full((50, 60), cv2.GC_PR_BGD, np.uint8)
    grabcut._seed_disks(gc, clicks, 5)
    pos, neg = click_discs(clicks, 50, 60, 5)
    assert np.array_equal(gc == cv2.GC_FGD, pos) and np.array_equal(gc == cv2.GC_BGD, neg) and pos.sum() > 60


def test_head_of_features_is_the_network():
    net = random_model("efficientnet_lite0")
    x = _input(net, _image(40, 50), [Click(20, 20, True)])  # smaller than MIN_SIZE: padded and cropped
    with torch.no_grad():
        assert torch.equal(net(x), net.head(net.features(x), x.shape[-2:]))
    assert net.head_strides == (8, 16, 32)


def test_nothing_is_optimised_when_the_clicks_are_respected():
    net = random_model("efficientnet_lite0")
    with torch.no_grad():
        net.score32.bias.fill_(20.0)  # foreground everywhere: a positive click is respected
    clicks = [Click(30, 30, True)]
    x = _input(net, _image(), clicks)
    with torch.no_grad():
        logits, evals = refine_logits(net, net.features(x), clicks, (72, 96))
        assert evals == 1 and torch.equal(logits, net(x))


def _disk_scene(h=120, w=160):
    """A yellow disk on dark noise: the shipped model selects the whole disk from a click at its centre."""
    img = (np.random.default_rng(0).random((h, w, 3)) * 60).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    img[(yy - 60) ** 2 + (xx - 80) ** 2 < 40 ** 2] = (200, 180, 40)
    return img


@pytest.mark.parametrize("second", [Click(100, 60, False), Click(60, 75, False)])
def test_an_ignored_click_is_enforced(second):
    """The shipped model ignores a negative click inside the disk (at the whole image's scale):
    after f-BRS every pixel of each click's disc has the click's label; the weights get no gradient."""
    from models.checkpoint import load_checkpoint
    from models.predictor import default_checkpoint

    net = load_checkpoint(default_checkpoint()).model.float().eval()
    clicks = [Click(80, 60, True), second]
    x = _input(net, _disk_scene(), clicks)
    with torch.no_grad():
        feats = net.features(x)
        before = torch.sigmoid(net(x))[0, 0].numpy()
    cfg = BRS()
    pos, neg = click_discs(clicks, 120, 160, cfg.radius)
    assert (before[neg] > 0.5).all()  # the click is ignored
    logits, evals = refine_logits(net, feats, clicks, (120, 160), cfg)
    prob = torch.sigmoid(logits)[0, 0].numpy()
    assert 1 < evals <= cfg.max_evals + 1
    assert (prob[pos] > cfg.prob_thresh).all() and (prob[neg] < 1 - cfg.prob_thresh).all()
    assert (prob > 0.5).sum() > 1000  # the object is still there, not just the clicks
    assert all(p.grad is None for p in net.parameters())


def test_without_the_disc_jacobian_the_head_runs_under_autograd(monkeypatch):
    """A model whose upsampling is no transposed convolution has no disc Jacobian (`pixel_sampler` is None): its
    evaluations run the head under autograd. The same ignored click is enforced that way, and its logits agree
    with the Jacobian's path (the same objective; float32 head against float64 products)."""
    import models.brs as brs
    from models.checkpoint import load_checkpoint
    from models.predictor import default_checkpoint

    net = load_checkpoint(default_checkpoint()).model.float().eval()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    x = _input(net, _disk_scene(), clicks)
    with torch.no_grad():
        feats = net.features(x)
    cfg = BRS()
    with_jac, n1 = refine_logits(net, feats, clicks, (120, 160), cfg)
    monkeypatch.setattr(brs, "pixel_sampler", lambda *a, **k: None)
    autograd, n2 = refine_logits(net, feats, clicks, (120, 160), cfg)
    pos, neg = click_discs(clicks, 120, 160, cfg.radius)
    prob = torch.sigmoid(autograd)[0, 0].numpy()
    assert n2 > 1 and (prob[pos] > cfg.prob_thresh).all() and (prob[neg] < 1 - cfg.prob_thresh).all()
    assert n1 == n2
    assert float((torch.sigmoid(with_jac) - torch.sigmoid(autograd)).abs().max()) < 1e-3
    assert all(p.grad is None for p in net.parameters())


def test_the_evaluation_budget_is_a_hard_cap():
    """With too few evaluations to succeed, f-BRS stops at the budget and returns its best logits."""
    from models.checkpoint import load_checkpoint
    from models.predictor import default_checkpoint

    net = load_checkpoint(default_checkpoint()).model.float().eval()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    x = _input(net, _disk_scene(), clicks)
    with torch.no_grad():
        feats, plain = net.features(x), net(x)
    logits, evals = refine_logits(net, feats, clicks, (120, 160), BRS(max_evals=2))
    assert evals == 3 and not torch.equal(logits, plain)


def test_predictor_uses_brs_by_default_and_can_turn_it_off():
    img = _disk_scene()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    on = Predictor.load(None, device="cpu", snap=None)
    off = Predictor.load(None, device="cpu", brs=None, snap=None)
    assert on.info()["brs"] and not off.info()["brs"]
    for p in (on, off):
        p.set_image(img)
    assert off.predict(clicks)[60, 100] > 0.5  # the plain network ignores the negative click
    assert on.predict(clicks)[60, 100] < 0.5 and on.brs_evals > 1
    # a click the network already respects: the plain network's output, nothing optimised
    np.testing.assert_array_equal(on.predict(clicks[:1]), off.predict(clicks[:1]))
    on.forget()
    on.predict(clicks[:1])
    assert on.brs_evals == 1


def test_invalid_settings():
    with pytest.raises(ValueError):
        BRS(max_evals=0)
    with pytest.raises(ValueError):
        BRS(prob_thresh=1.0)
    with pytest.raises(ValueError):
        BRS(time_ratio=0.0)


@pytest.mark.parametrize("stride", [4, 8, 16, 32])
@pytest.mark.parametrize("size", [(375, 500), (40, 50), (65, 97), (1, 200)])
def test_pixel_sampler_is_the_upsampled_map_at_those_pixels(stride, size):
    """The logits f-BRS optimises (at the click discs only) are exactly those of the full head, for any
    input size (padded small inputs, odd sizes) and any learned transposed-convolution kernel."""
    from models.brs import pixel_sampler

    net = random_model("efficientnet_lite0", stride=stride)
    with torch.no_grad():
        net.up_final.deconv.weight.add_(torch.rand_like(net.up_final.deconv.weight) * 0.3)
        s = torch.randn(1, 1, *net.fuse(net.features(torch.randn(1, 5, *size))).shape[-2:])
        full = net.upsample_logits(s, size)[0, 0]
    ys, xs = (a.ravel() for a in np.mgrid[:size[0], :size[1]])
    index, weight = pixel_sampler(net, tuple(s.shape[-2:]), ys, xs)
    np.testing.assert_allclose((s.reshape(-1)[index] * weight).sum(1).numpy(), full[ys, xs].numpy(), atol=2e-4)


def test_non_finite_loss_falls_back_to_the_network_output():
    """Broken features (NaN) make every f-BRS loss NaN: no crash, the network's own logits come back."""
    net = random_model().eval()
    rgb = _image()
    clicks = [Click(20, 30, True), Click(70, 30, False)]
    with torch.no_grad():
        feats = net.features(_input(net, rgb, clicks))
        feats = {s: torch.full_like(f, float("nan")) for s, f in feats.items()}
        base = net.head(feats, rgb.shape[:2])
    logits, evals = refine_logits(net, feats, clicks, rgb.shape[:2], BRS())
    assert logits.shape == base.shape and evals >= 1
    assert torch.isnan(logits).all() == torch.isnan(base).all()


@pytest.mark.parametrize("stride", [4, 8, 16, 32])
@pytest.mark.parametrize("size", [(97, 130), (375, 500), (40, 50), (64, 64)])
def test_disc_jacobian_gives_the_heads_logits(stride, size):
    """f-BRS's evaluations (base logits + Jacobian x parameters) are the head's logits at the click discs
    for any per-channel scales and biases: the head is linear, so nothing is approximated."""
    from models.brs import disc_jacobian, pixel_sampler

    net = random_model("efficientnet_lite0", stride=stride)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("score"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            if name.startswith("up"):  # learned upsampling kernels, not the bilinear ones they start as
                p.add_(torch.rand(p.shape, generator=g) * 0.3)
        feats = net.features(torch.randn(1, 5, *size, generator=g))
        fused = net.fuse(feats)
    ys, xs = np.nonzero(np.random.default_rng(0).random(size) < 0.05)
    index, weight = pixel_sampler(net, tuple(fused.shape[-2:]), ys, xs)
    jac = disc_jacobian(net, feats, index, weight)
    sizes = [feats[s].shape[1] for s in net.head_strides]
    params = torch.randn(2 * sum(sizes), generator=g) * 0.1
    scale, bias = params.chunk(2)
    moved, i = {}, 0
    for s, c in zip(net.head_strides, sizes):
        moved[s] = feats[s] * (1 + scale[i:i + c]).view(1, c, 1, 1) + bias[i:i + c].view(1, c, 1, 1)
        i += c
    with torch.no_grad():
        head = net.head(moved, size)[0, 0][ys, xs]
        base = (fused.reshape(-1)[index] * weight).sum(1)
    assert jac.shape == (len(ys), 2 * sum(sizes))
    assert float((head - net.head(feats, size)[0, 0][ys, xs]).abs().max()) > 1e-2  # the parameters matter
    np.testing.assert_allclose(base.numpy() + jac @ params.double().numpy(), head.numpy(), atol=1e-5)
    # the transpose (the gradient's J.T @ dz) is that of the same matrix, formed or not
    dz = np.random.default_rng(1).normal(size=len(ys))
    np.testing.assert_allclose(jac.rmatvec(dz), jac.dense().T @ dz, rtol=1e-9, atol=1e-12)
    x = params.double().numpy()
    np.testing.assert_allclose(jac.dense() @ x, jac @ x, rtol=1e-9, atol=1e-12)


def test_the_time_budget_is_a_hard_cap():
    """f-BRS stops when its time is spent, whatever its evaluation budget: with a clock that advances one
    second per reading and 2.5 s to spend, the third evaluation is the last; its best logits come back."""
    from models.checkpoint import load_checkpoint
    from models.predictor import default_checkpoint

    net = load_checkpoint(default_checkpoint()).model.float().eval()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    x = _input(net, _disk_scene(), clicks)
    with torch.no_grad():
        feats, plain = net.features(x), net(x)
    ticks = iter(range(1000))
    _, free = refine_logits(net, feats, clicks, (120, 160), BRS(max_evals=50))
    logits, evals = refine_logits(net, feats, clicks, (120, 160), BRS(max_evals=50, min_evals=1), budget_s=2.5,
                                  clock=lambda: float(next(ticks)))
    assert free > 4 and evals == 4 and not torch.equal(logits, plain)


def test_the_time_budget_never_stops_before_min_evals():
    """A budget already spent (a loaded machine, a tiny image) still leaves f-BRS `min_evals` evaluations."""
    from models.checkpoint import load_checkpoint
    from models.predictor import default_checkpoint

    net = load_checkpoint(default_checkpoint()).model.float().eval()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    x = _input(net, _disk_scene(), clicks)
    with torch.no_grad():
        feats = net.features(x)
    _, free = refine_logits(net, feats, clicks, (120, 160), BRS(max_evals=50))
    for floor in (1, 3):
        _, evals = refine_logits(net, feats, clicks, (120, 160), BRS(max_evals=50, min_evals=floor), budget_s=0.0)
        assert evals == min(free, floor + 1)
    with pytest.raises(ValueError):
        BRS(min_evals=-1)


def test_predictor_gives_brs_a_share_of_the_forwards_time():
    """The predictor times the backbone and passes f-BRS `time_ratio` x that: a tiny ratio stops f-BRS after
    its first evaluation (the clicks then stay ignored) when `min_evals` allows; the defaults (ratio and
    `min_evals`) let it enforce them, even on a tiny image whose forward is quicker than f-BRS's set-up."""
    img = _disk_scene()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    for cfg, evals in ((BRS(time_ratio=1e-9, min_evals=1), 2), (BRS(), None)):
        p = Predictor.load(None, device="cpu", brs=cfg, snap=None)
        p.set_image(img)
        prob = p.predict(clicks)
        if evals is not None:
            assert p.brs_evals == evals and prob[60, 100] > 0.5
        else:
            assert p.brs_evals > 2 and prob[60, 100] < 0.5


def test_the_optimisation_runs_on_one_thread_and_restores_the_callers():
    """f-BRS's L-BFGS runs torch on one intra-op thread (its ops are too small to share: 2 threads made it
    2.5x slower on 2 cores, benchmarks/RESULTS.md); the caller's thread count is back afterwards, also when
    the optimisation fails, and a respected click (no optimisation) runs with the caller's threads."""
    from models.checkpoint import load_checkpoint
    from models.predictor import default_checkpoint

    net = load_checkpoint(default_checkpoint()).model.float().eval()
    clicks = [Click(80, 60, True), Click(100, 60, False)]
    x = _input(net, _disk_scene(), clicks)
    with torch.no_grad():
        feats = net.features(x)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen: list[int] = []

        def clock() -> float:
            seen.append(torch.get_num_threads())
            return 0.0

        cfg = BRS(min_evals=0)  # the clock is read at every evaluation
        _, evals = refine_logits(net, feats, clicks, (120, 160), cfg, budget_s=1.0, clock=clock)
        assert evals > 1 and seen[0] == 2 and set(seen[1:]) == {1}  # the start reading, then evaluations
        assert torch.get_num_threads() == 2

        def broken() -> float:
            seen.append(torch.get_num_threads())
            if len(seen) > 3:
                raise RuntimeError("clock failed")
            return 0.0

        seen.clear()
        with pytest.raises(RuntimeError):
            refine_logits(net, feats, clicks, (120, 160), cfg, budget_s=1.0, clock=broken)
        assert torch.get_num_threads() == 2
        seen.clear()
        _, evals = refine_logits(net, feats, clicks[:1], (120, 160), cfg, budget_s=1.0, clock=clock)
        assert evals == 1 and seen == [2]
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("loss", ["bce", "squared"])
def test_the_click_loss_gradient_in_closed_form_is_autograds(loss):
    """f-BRS's evaluations take the loss's derivative in the disc logits in closed form (then jac.T @ it): the
    same value and gradient as autograd on the loss as written in the paper's terms."""
    from models.brs import click_loss

    g = torch.Generator().manual_seed(3)
    z = (torch.randn(300, generator=g) * 6).requires_grad_(True)
    is_pos = torch.rand(300, generator=g) < 0.4
    n_pos, n_neg = int(is_pos.sum()), int((~is_pos).sum())
    zp, zn = z[is_pos], z[~is_pos]
    if loss == "bce":
        want = F.softplus(-zp).sum() / n_pos + F.softplus(zn).sum() / n_neg
    else:
        want = ((1 - torch.sigmoid(zp)) ** 2).sum() / n_pos + (torch.sigmoid(zn) ** 2).sum() / n_neg
    (want_grad,) = torch.autograd.grad(want, z)
    sign = np.where(is_pos.numpy(), -1.0, 1.0)
    per = np.where(is_pos.numpy(), 1.0 / n_pos, 1.0 / n_neg)
    zn = z.detach().double().numpy()
    value, grad = click_loss(zn, sign, per, loss, with_grad=True)
    assert abs(value - float(want)) < 1e-5 * max(1.0, abs(float(want)))
    np.testing.assert_allclose(grad, want_grad.numpy(), rtol=1e-4, atol=1e-7)
    assert click_loss(zn, sign, per, loss)[1] is None


def test_disc_pixels_are_the_click_discs_pixels():
    """f-BRS's disc pixels from the discs' offsets are those of the drawn masks (`click_discs`), in row-major
    order, positive where a positive disc covers them, for clicks at borders and overlapping discs."""
    from models.brs import disc_pixels

    rng = np.random.default_rng(5)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(4, 90, 2))
        clicks = [Click(float(rng.uniform(-2, w + 1)), float(rng.uniform(-2, h + 1)), bool(rng.random() < 0.5))
                  for _ in range(int(rng.integers(0, 8)))]
        radius = int(rng.integers(0, 7))
        pos, neg = click_discs(clicks, h, w, radius)
        ys, xs, is_pos = disc_pixels(clicks, h, w, radius)
        want_y, want_x = np.nonzero(pos | neg)
        np.testing.assert_array_equal(ys, want_y)
        np.testing.assert_array_equal(xs, want_x)
        np.testing.assert_array_equal(is_pos, pos[want_y, want_x])
