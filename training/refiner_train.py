"""Train the learned refiner (`models.refiner`) on states written by `training.refiner_pack`.

Each step draws objects by source (the same per-source weights as the network's training), one state of each
(the predictor's probability after some clicks), and a crop around the object's boundary; the loss is BCE plus
soft IoU on the pixels that are not ignored. Checkpoints (`last.pt`, resumable; `best.pt` by the held-out
refined states' share at 90 % IoU, then their mean IoU) go to `--out`, written atomically; each validation also
compares the refiner with edge snapping on held-out states (5 % of the pack's photos).
"""
from __future__ import annotations

import argparse
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from models import colour_refine
from models.clicks import Click
from models.edge_snap import GuideCache, snap
from models.errors import IFCNError
from models.fileio import atomic_write_bytes
from models.metrics import iou
from models.refiner import Refiner, refine, refine_logits, refiner_input
from models.regions import crop_clicks
from models.spec import REFINER_INPUTS, REFINER_WIDTHS
from training.export import read_refiner
from training.layouts import in_val_split

#: Share (%) of the pack's photos held out for validation, by a hash of the file name.
HELD_OUT_PERCENT = 5


@dataclass
class State:
    """One training state: which image, which object, the probability after `n` clicks."""

    image: int
    gt: np.ndarray
    ignore: np.ndarray
    prob: np.ndarray  # uint8: the predictor's probability
    clicks: list[Click]
    src: np.ndarray  # uint8: what the refiner refines (the probability, or it snapped, or snapped + colour)


def load_pack(folder: Path, states_per_object: int, rng: np.random.Generator, val: bool, kind: str = "network"
              ) -> tuple[list[np.ndarray], list[State], list[str]]:
    """(photos, states, source of each state) of the pack's train (or held-out) files; `kind` is what the
    refiner refines (`REFINER_INPUTS`): the probability, it edge-snapped (`models.edge_snap`), or snapped and
    colour-refined (`models.colour_refine`), as the predictor computes them."""
    photos: list[np.ndarray] = []
    states: list[State] = []
    sources: list[str] = []
    if not folder.is_dir():
        raise IFCNError(f"{folder}: no such folder (write one with `ifcn refiner-pack`).")
    for path in sorted(folder.glob("*.npz")):
        if path.name.endswith(".tmp.npz") or in_val_split(path.stem, HELD_OUT_PERCENT) != val:
            continue
        try:
            objects = _read_pack_file(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            print(f"skipped {path.name}: not a readable refiner-pack file ({type(e).__name__}: {e})", flush=True)
            continue
        if not objects:
            continue
        photos.append(objects[0][0])
        cache = GuideCache(photos[-1])
        for _, gt, ign, probs, clicks in objects:
            picks = range(len(probs)) if len(probs) <= states_per_object else \
                sorted(rng.choice(len(probs), states_per_object, replace=False))
            for n in picks:
                cl = [Click(float(x), float(y), bool(p)) for x, y, p in clicks[:n + 1]]
                src = probs[n]
                if kind != "network":
                    p = snap(photos[-1], probs[n] / np.float32(255), cl)
                    if kind == "colour":
                        p = colour_refine.refine(photos[-1], p, cl, cache=cache)
                    src = np.round(p * 255).astype(np.uint8)
                states.append(State(len(photos) - 1, gt, ign, probs[n], cl, src))
                sources.append(path.stem.split("__")[0])
    return photos, states, sources


def _read_pack_file(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(rgb, gt, ignore, probs, clicks) of each object of one `refiner-pack` file, checked for shape and type
    (ValueError for a file that is not one: it is skipped, never trusted; pickled objects are refused)."""
    out = []
    with np.load(path, allow_pickle=False) as z:
        rgb = z["rgb"]
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("rgb is not an HxWx3 uint8 photo")
        h, w = rgb.shape[:2]
        for key in [k for k in z.files if k.startswith("probs_")]:
            k = key[len("probs_"):]
            probs, clicks = z[key], z[f"clicks_{k}"]
            gt, ign = z[f"gt_{k}"], z[f"ignore_{k}"]
            if gt.shape != (h, w) or ign.shape != (h, w) or probs.dtype != np.uint8 or probs.ndim != 3 \
                    or probs.shape[1:] != (h, w) or clicks.shape != (len(probs), 3) or len(probs) == 0:
                raise ValueError(f"object {k}: arrays do not match the photo")
            out.append((rgb, gt.astype(bool), ign.astype(bool), probs, clicks.astype(np.float32)))
    return out


def source_probabilities(sources: list[str], weights: str = "") -> np.ndarray:
    """Each state's probability of being drawn: a source's weight (`"name:w,..."`; every source alike when
    empty; unnamed sources 0) shared equally by its states."""
    src = np.array(sources)
    names = sorted(set(sources))
    try:
        wts = {n: 1.0 for n in names} if not weights else \
            {k: float(v) for k, v in (kv.rsplit(":", 1) for kv in weights.split(","))}
    except ValueError:
        raise IFCNError(f"--weights {weights!r}: expected name:weight,name:weight.") from None
    prob = np.zeros(len(sources))
    for name in names:
        sel = src == name
        prob[sel] = max(0.0, wts.get(name, 0.0)) / sel.sum()
    if prob.sum() <= 0:
        raise IFCNError(f"--weights {weights!r}: no source of the pack ({', '.join(names)}) has a weight.")
    return prob / prob.sum()


def _crop_origin(s: State, size: int, rng: np.random.Generator) -> tuple[int, int]:
    h, w = s.gt.shape
    if rng.random() < 0.5:  # around a point of the object's boundary
        edge = s.gt ^ cv2.erode(s.gt.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    else:  # around a point of the probability's transition band
        edge = (s.src > 2) & (s.src < 253)
    ys, xs = np.nonzero(edge)
    if len(ys) == 0:
        cy, cx = h // 2, w // 2
    else:
        i = rng.integers(len(ys))
        cy, cx = ys[i] + rng.integers(-size // 4, size // 4 + 1), xs[i] + rng.integers(-size // 4, size // 4 + 1)
    return int(np.clip(cy - size // 2, 0, max(0, h - size))), int(np.clip(cx - size // 2, 0, max(0, w - size)))


def make_batch(photos: list[np.ndarray], states: list[State], idx: np.ndarray, size: int,
               rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs (N, 6, S, S), targets, valid masks (N, 1, S, S)) of crops of the states `idx` (padded to S)."""
    xs, ts, vs = [], [], []
    for i in idx:
        s = states[i]
        y0, x0 = _crop_origin(s, size, rng)
        sl = (slice(y0, y0 + size), slice(x0, x0 + size))
        rgb, prob = photos[s.image][sl], s.src[sl].astype(np.float32) / 255.0
        clicks = crop_clicks(s.clicks, (y0, y0 + size, x0, x0 + size))
        x = refiner_input(rgb, prob, clicks)
        t, v = s.gt[sl].astype(np.float32), (~s.ignore[sl]).astype(np.float32)
        ph, pw = size - t.shape[0], size - t.shape[1]
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge")
            t = np.pad(t, ((0, ph), (0, pw)))
            v = np.pad(v, ((0, ph), (0, pw)))
        if rng.random() < 0.5:
            x, t, v = x[..., ::-1], t[:, ::-1], v[:, ::-1]
        xs.append(np.ascontiguousarray(x))
        ts.append(np.ascontiguousarray(t))
        vs.append(np.ascontiguousarray(v))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts))[:, None], torch.from_numpy(np.stack(vs))[:, None]


def loss_fn(logits: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """BCE over the valid pixels plus soft IoU (1 - Σpt / Σ(p + t - pt)) per crop."""
    bce = (F.binary_cross_entropy_with_logits(logits, t, reduction="none") * v).sum() / v.sum().clamp(min=1)
    p = torch.sigmoid(logits) * v
    inter = (p * t).sum((1, 2, 3))
    union = (p + t * v - p * t).sum((1, 2, 3)).clamp(min=1)
    return bce + (1 - inter / union).mean()


#: Held-out states each validation looks at.
VAL_STATES = 300


def _scores(name: str, ious: list[float]) -> dict[str, float]:
    """The mean IoU and the share at 90 % or more (`<name>_at90`: what NoC@90 counts; a refiner can raise the
    mean by fixing poor states while losing the precise ones)."""
    return {name: float(np.mean(ious)), f"{name}_at90": float(np.mean(np.array(ious) >= 0.9))}


def baselines(photos: list[np.ndarray], states: list[State]) -> dict[str, float]:
    """`_scores` of the held-out states' probability as it is ("raw"), edge-snapped ("snap") and as the refiner
    is given it ("input"): the same for every validation of a run, so computed once."""
    raw, snapped, given = [], [], []
    for s in states[:VAL_STATES]:
        rgb, prob = photos[s.image], s.prob.astype(np.float32) / 255.0
        raw.append(iou(prob >= 0.5, s.gt, s.ignore))
        snapped.append(iou(snap(rgb, prob, s.clicks) >= 0.5, s.gt, s.ignore))
        given.append(iou(s.src >= 128, s.gt, s.ignore))
    return {"states": len(raw), **_scores("raw", raw), **_scores("snap", snapped), **_scores("input", given)}


def validate(model: Refiner, photos: list[np.ndarray], states: list[State]) -> dict[str, float]:
    """`_scores` of the held-out states refined by `model` ("refined")."""
    model.eval()
    refined = [iou(refine(model, photos[s.image], s.src.astype(np.float32) / 255.0, s.clicks) >= 0.5, s.gt,
                   s.ignore) for s in states[:VAL_STATES]]
    model.train()
    return _scores("refined", refined)


def _save(obj: dict, path: Path) -> None:
    """torch.save, atomically (a run stopped mid-write keeps the previous file)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`ifcn train-refiner --pack DIR --out DIR [--steps N] [--weights SRC:W,...] [--resume]`."""
    p.add_argument("--pack", required=True, help="folder written by `ifcn refiner-pack`")
    p.add_argument("--out", required=True, help="folder for last.pt (resumable), best.pt and log.jsonl")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to 0)")
    p.add_argument("--width", type=int, default=16, help="channels of the refiner's first stage (4..64)")
    p.add_argument("--states-per-object", type=int, default=4, help="states kept per object (of up to 8)")
    p.add_argument("--weights", default="", help="sampling weight per source, e.g. coco:0.45,camvid:0.2 "
                                                   "(default: every source alike)")
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    p.add_argument("--init", type=Path, help="start from this refiner checkpoint's weights (its width)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--input", choices=REFINER_INPUTS, default="network",
                   help="what the refiner refines: the network's probability, that probability edge-snapped, or "
                        "edge-snapped and colour-refined (the refiner then runs after colour refinement)")


def run(a: argparse.Namespace) -> int:
    """Entry point of `ifcn train-refiner`."""
    if a.width not in REFINER_WIDTHS:
        raise IFCNError(f"--width {a.width}: must be 4..64.")
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    photos, states, sources = load_pack(Path(a.pack), a.states_per_object, rng, val=False, kind=a.input)
    vphotos, vstates, _ = load_pack(Path(a.pack), 2, np.random.default_rng(1), val=True, kind=a.input)
    if not states or not vstates:
        raise IFCNError(f"{a.pack}: too few states to train on ({len(states)} training, {len(vstates)} held "
                        f"out); run `ifcn refiner-pack` on more photos.")
    prob = source_probabilities(sources, a.weights)
    print(f"{len(states)} states of {len(photos)} photos, {len(vstates)} held out; loaded in {time.time() - t0:.0f} s",
          flush=True)
    model = Refiner(a.width)
    resuming = a.resume and (out / "last.pt").is_file()
    if a.init is not None and not resuming:
        width, _, state = read_refiner(a.init)
        if width != a.width:
            raise IFCNError(f"--init {a.init}: a refiner of width {width}, not --width {a.width}.")
        model.load_state_dict(state)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    step, best = 0, -1.0
    if resuming:
        ck = torch.load(out / "last.pt", weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best = int(ck["step"]), float(ck["best"])
        rng = np.random.default_rng(a.seed + step)
    sched = lambda s: float(a.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, s / a.steps))))  # noqa: E731
    base = baselines(vphotos, vstates)
    model.train()
    log = open(out / "log.jsonl", "a")
    t1, losses = time.time(), []
    while step < a.steps:
        for g in opt.param_groups:
            g["lr"] = sched(step)
        idx = rng.choice(len(states), a.batch_size, p=prob)
        x, t, v = make_batch(photos, states, idx, a.crop_size, rng)
        loss = loss_fn(refine_logits(model, x), t, v)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {np.mean(losses[-50:]):.4f} {(time.time() - t1) / 50:.2f} s/step", flush=True)
            t1 = time.time()
        if step % a.val_every == 0 or step == a.steps:
            r = {**base, **validate(model, vphotos, vstates)}
            r.update(step=step, loss=float(np.mean(losses[-a.val_every:])))
            print(json.dumps(r), flush=True)
            log.write(json.dumps(r) + "\n")
            log.flush()
            score = r["refined_at90"] + 0.01 * r["refined"]  # the share at 90 % first, then the mean
            if score > best:
                best = score
                _save({"model": model.state_dict(), "step": step, "val": r, "width": a.width, "input": a.input},
                      out / "best.pt")
            _save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                   "width": a.width, "input": a.input}, out / "last.pt")
    return 0


if __name__ == "__main__":
    _p = argparse.ArgumentParser(description=__doc__)
    add_arguments(_p)
    raise SystemExit(run(_p.parse_args()))
