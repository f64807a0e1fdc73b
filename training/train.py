"""`ifcn train`: the command line of a training run (its options, and the run they configure).

The run itself is `training.train_loop.train` (Adam + BCE-with-logits over non-void pixels, reference
settings; last.pt resumable, best.pt by validation IoU; Ctrl+C or SIGTERM saves last.pt and exits 130;
multi-GPU with `torchrun --nproc_per_node=N -m models.cli train ...`). Its pieces: settings
(`training.train_config`), data (`training.train_data`), checkpoint and resume (`training.train_checkpoint`),
one step (`training.step`), validation (`training.validation`), signals and devices (`training.train_runtime`).
"""
from __future__ import annotations

import argparse
import os

from training.step import LOSSES, masked_bce, masked_nfl, train_step
from training.train_config import DEFAULT_BACKBONE, EXIT_STOPPED, TrainConfig, TrainResult
from training.train_loop import train
from training.validation import validate

__all__ = ["DEFAULT_BACKBONE", "EXIT_STOPPED", "TrainConfig", "TrainResult", "add_arguments", "config_from_args",
           "masked_bce", "masked_nfl", "run", "train", "train_step", "validate"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn train`."""
    d = TrainConfig(voc_root="", out="")
    a = parser.add_argument
    a("--voc-root", help="VOC devkit (VOCdevkit/, VOC2012/ or a folder with that layout)")
    a("--data", action="append", default=[], metavar="DIR[:WEIGHT]",
      help="instead of --voc-root: an object folder (images/ + masks/<stem>_<k>.png, 128 = ignore) or a "
           "folder of them, one per source; repeat for several. Items are drawn by source, in proportion "
           "to the weights (default 1 each), not uniformly by object. Splits: train / val (a fixed 10 %% "
           "of each source's images) / all")
    a("--scale-min", type=float, default=d.scale_min, help=f"random scale range, low end (default {d.scale_min})")
    a("--scale-max", type=float, default=d.scale_max, help=f"random scale range, high end (default {d.scale_max})")
    a("--base-size", type=int, default=None, metavar="PX",
      help="apply the random scale to each image resized to this longest side (the annotator's working "
           "size is 512), so objects are trained at the size the annotator shows them; default: the "
           "stored size")
    a("--zoom-prob", type=float, default=d.zoom_prob, metavar="P",
      help="share of training items shown as the predictor's zoom-in shows an object: its box, grown 1.2-1.8x, "
           "enlarged to fill 60-100 %% of the crop (default 0: none)")
    a("--colour-prob", type=float, default=d.colour_prob, metavar="P",
      help="probability of each of RITM's photometric changes of a training item: brightness +-25 %%, "
           "contrast +-15 %%, a shift of each colour channel by up to 10 grey levels (default 0: none)")
    a("--paste-prob", type=float, default=d.paste_prob, metavar="P",
      help="share of training items (object folders) with an object of another training photo pasted on: half "
           "of the time it is the object to segment, else another object beside or in front of the item's "
           "(Simple Copy-Paste; default 0: none)")
    a("--area-power", type=float, default=d.area_power, metavar="P",
      help="object folders: within each source draw objects with probability proportional to their area (with "
           "the photo at the 512-px scale the annotator's network sees) to the power -P, so small objects are "
           "trained on more often (0 to 2; default 0: uniformly; 0.5 makes a 400-px object 5x as likely as a "
           "10,000-px one)")
    a("--freeze-bn", action="store_true",
      help="BatchNorm layers normalise with their running statistics and keep them, as at inference: fine-tuning "
           "with small batches (8 on a CPU) then cannot drift them")
    a("--out", required=True, help="run folder: last.pt and best.pt go here")
    a("--pairs", help="click pairs file of the train split (from `ifcn pairs`)")
    a("--mode", choices=("image", "pairs", "random"), default=None,
      help="image: one random pair per image; pairs: every pair (needs --pairs); random: sample clicks "
           "on the fly (default: pairs with --pairs, else random)")
    a("--train-split", default=d.train_split, help="training split (default train)")
    a("--backbone", default=d.backbone, help=f"backbone name (default {d.backbone})")
    a("--stride", type=int, choices=(4, 8, 16, 32), default=d.stride,
      help="FCN-4s/8s/16s/32s (default 8; 4 needs a ResNet or EfficientNet-Lite backbone). With "
           "--init-checkpoint of an FCN-8s model, 4 adds the stride-4 score layer to it (starting at zero)")
    a("--upsample", choices=("deconv", "bilinear"), default=d.upsample, help="upsampling (default deconv)")
    a("--extra-init", choices=("zero", "mean"), default=d.extra_init,
      help="initialisation of the two click channels' first-conv weights (default mean)")
    a("--init-checkpoint", help="fine-tune from this checkpoint (its architecture wins)")
    a("--weights", default="imagenet",
      help="backbone weights: imagenet (torch hub cache), a weights file, or none (default imagenet)")
    a("--allow-download", action="store_true", help="allow downloading ImageNet weights if not cached")
    a("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    a("--max-steps", type=int, default=None, help="stop after this many optimiser steps in total")
    a("--batch-size", type=int, default=d.batch_size, help=f"batch size per process (default {d.batch_size})")
    a("--lr", type=float, default=d.lr, help="Adam learning rate (default 1e-3)")
    a("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay (default 1e-5)")
    a("--crop-size", type=int, default=d.crop_size, help=f"training crop size (default {d.crop_size})")
    a("--no-augment", action="store_true", help="no random scale/crop/flip")
    a("--workers", type=int, default=min(4, os.cpu_count() or 1), help="DataLoader worker processes")
    a("--device", default="auto", help="auto, cuda, cpu or mps")
    a("--resume", action="store_true", help="continue the run in --out from its last.pt")
    a("--seed", type=int, default=d.seed, help="random seed (default 0)")
    a("--amp", action=argparse.BooleanOptionalAction, default=None,
      help="mixed precision: on CUDA bf16/fp16 (default on); on the CPU bf16 autocast where the CPU "
           "supports it natively (default off)")
    a("--val-split", default=d.val_split, help="validation split, or none (default val)")
    a("--val-pairs", help="pairs file of the validation split (default: clicks sampled with a fixed seed)")
    a("--val-limit", type=int, default=None, help="validate on at most N samples")
    a("--val-every", type=int, default=None, help="also validate every N steps")
    a("--val-clicks", type=int, default=0, metavar="N",
      help="validate (and choose best.pt) by the IoU after N corrective clicks placed by the benchmark's oracle "
           "in the model's own errors, not by the sampled clicks' IoU alone: what a click sequence gives, and "
           "what a previous-mask model's input is for (default 0)")
    a("--snapshots", action="store_true",
      help="also keep the model as it is at every validation, as RUN_DIR/snapshots/step<N>.pt (the model alone, "
           "like best.pt): the checkpoints of one run that `ifcn average` makes a model soup of")
    a("--progress-json", action="store_true", help="JSON progress lines on stdout (see training.progress)")
    a("--progress-every", type=int, default=1, help="emit a step event every N steps (default 1)")
    a("--no-bar", action="store_true", help="no tqdm progress bar")
    a("--iterative", type=int, default=d.iterative, metavar="N",
      help="before each step add up to N corrective clicks placed by the NoC oracle in the model's own "
           "errors (RITM-style iterative training; default 0 = the paper's independent sampling)")
    a("--iterative-refine", action="store_true",
      help="place --iterative's corrective clicks on what the annotator shows (the network's probability "
           "edge-snapped and colour-refined) instead of the network's own mask")
    a("--iterative-prob", type=float, default=d.iterative_prob,
      help=f"fraction of batches that get corrective clicks (default {d.iterative_prob})")
    a("--iterative-single", type=float, default=d.iterative_single,
      help="fraction of those first reduced to one positive click, like the benchmark's first click "
           f"(default {d.iterative_single})")
    a("--prev-mask", action="store_true",
      help="give the model RITM's previous-mask input: a sixth channel with the previous prediction's "
           "probability (filled by --iterative's rounds; zero for a first click). A 5-channel --init-checkpoint "
           "is widened with zero weights for it, so training starts from exactly its predictions")
    a("--loss", choices=sorted(LOSSES), default=d.loss,
      help="per-pixel loss: bce (the paper's, default) or nfl (RITM's normalized focal loss: hard pixels weigh "
           "more)")
    a("--click-weight", type=float, default=d.click_weight, metavar="W",
      help="the BCE of the pixels within --click-radius px of a click (sampled or corrective) weighs W times as "
           "much: the network is asked to follow each click (default 1: plain BCE)")
    a("--click-radius", type=float, default=d.click_radius, metavar="PX",
      help=f"the neighbourhood --click-weight weighs, in input pixels (default {d.click_radius:g})")
    a("--teacher", action="append", default=[], metavar="CKPT",
      help="distillation: a frozen model (repeat for several; their logits are averaged) whose prediction on the "
           "same input is a soft target; it must read the student's input (channels, normalisation, clamp)")
    a("--distill-weight", type=float, default=d.distill_weight, metavar="A",
      help=f"with --teacher: the loss is (1 - A) x the loss towards the masks + A x the BCE towards the "
           f"teachers' prediction (default {d.distill_weight:g})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from parsed command-line arguments."""
    weights = None if str(args.weights).lower() == "none" else args.weights
    val_split = None if str(args.val_split).lower() in ("none", "") else args.val_split
    return TrainConfig(
        voc_root=args.voc_root, out=args.out, data=tuple(args.data), scale_min=args.scale_min,
        scale_max=args.scale_max, base_size=args.base_size, zoom_prob=args.zoom_prob,
        colour_prob=args.colour_prob, paste_prob=args.paste_prob, area_power=args.area_power,
        freeze_bn=args.freeze_bn, pairs=args.pairs,
        mode=args.mode,
        train_split=args.train_split,
        backbone=args.backbone, stride=args.stride, upsample=args.upsample, extra_init=args.extra_init,
        init_checkpoint=args.init_checkpoint, weights=weights, allow_download=args.allow_download,
        epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, crop_size=args.crop_size, augment=not args.no_augment,
        workers=args.workers, device=args.device, resume=args.resume, seed=args.seed, amp=args.amp,
        val_split=val_split, val_pairs=args.val_pairs, val_limit=args.val_limit, val_every=args.val_every,
        val_clicks=args.val_clicks, snapshots=args.snapshots,
        progress_json=args.progress_json, progress_every=args.progress_every, show_bar=not args.no_bar,
        iterative=args.iterative, iterative_prob=args.iterative_prob, iterative_single=args.iterative_single,
        iterative_refine=args.iterative_refine,
        prev_mask=args.prev_mask, loss=args.loss, click_weight=args.click_weight, click_radius=args.click_radius,
        teachers=tuple(args.teacher), distill_weight=args.distill_weight)


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn train`: 0 when completed, 130 when stopped by a signal."""
    result = train(config_from_args(args))
    return 0 if result.status == "completed" else EXIT_STOPPED
