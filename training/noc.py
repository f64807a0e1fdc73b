"""The NoC benchmark (`ifcn noc`): number of clicks to reach 85% / 90% IoU, protocol of shared/README.md.

Per object: the first click is positive at the object's interior maximum (`models.metrics.interior_point`),
each next click comes from the oracle (`models.metrics.next_click`); IoU ignores void pixels. The run for an
object stops once IoU reaches the highest target (or after `max_clicks`); NoC@85 and NoC@90 come from the
same click sequence, and an object that never reaches a target counts `max_clicks` and is "failed".
For the mIoU-vs-clicks curve an object that stopped early keeps its last IoU for the remaining clicks
(`--all-clicks` runs every object to `max_clicks` instead).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from models.clicks import Click
from models.colour_refine import REFINE_LABELS, REFINE_METHODS
from models.errors import DatasetError, IFCNError, ImageReadError
from models.fileio import atomic_write_text
from models.metrics import error_region_fixed, interior_point, iou, next_click
from models.regions import DEFAULT_MAX_SIZE, DEFAULT_NET_SIZE
from models.zoom import ZoomIn
from training.noc_report import format_table, per_object_csv, target_key, write_outputs  # noqa: F401 (the outputs)
from training.progress import ProgressWriter

TARGETS = (0.85, 0.90)
MAX_CLICKS = 20
ZOOM_TARGET = ZoomIn().target  # `--zoom-in`'s default: the annotator's Zoom In on the Object, on by default


class PredictorLike(Protocol):
    """What the benchmark needs from `models.predictor.Predictor`."""

    name: str

    def set_image(self, rgb: np.ndarray) -> Any: ...

    def predict(self, clicks: Sequence[Click], refine: bool = False) -> np.ndarray: ...


@dataclass
class ObjectResult:
    """One object's click sequence: IoU after each click and the NoC for each target."""

    image_id: str
    object_id: int
    area: int
    ious: list[float]
    clicks: list[Click]
    noc: dict[float, int]
    failed: dict[float, bool]
    #: per corrective click: (area of the error region it was placed in, fraction the next prediction fixed)
    fixed: list[tuple[int, float]] = field(default_factory=list)

    def curve(self, max_clicks: int) -> list[float]:
        """IoU after clicks 1..max_clicks, the last value carried forward after an early stop."""
        if not self.ious:
            return [0.0] * max_clicks
        return (self.ious + [self.ious[-1]] * max_clicks)[:max_clicks]


@dataclass
class NocResult:
    """Everything one benchmark run produced."""

    model: str
    refine: bool
    max_clicks: int
    targets: tuple[float, ...]
    objects: list[ObjectResult] = field(default_factory=list)
    images: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    predictions: int = 0
    stopped: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    #: what refined the predictions when `refine` is on: "colour" or "grabcut" (`models.predictor.REFINE_METHODS`)
    refine_method: str = "colour"

    def noc(self, target: float) -> float:
        """Mean number of clicks to reach `target` (NaN without objects)."""
        if not self.objects:
            return float("nan")
        return float(np.mean([o.noc[target] for o in self.objects]))

    def failed(self, target: float) -> int:
        """Objects that never reached `target` within max_clicks."""
        return sum(o.failed[target] for o in self.objects)

    def miou_per_click(self) -> list[float]:
        """Mean IoU over objects after each click 1..max_clicks."""
        if not self.objects:
            return []
        curves = np.array([o.curve(self.max_clicks) for o in self.objects], dtype=np.float64)
        return [float(v) for v in curves.mean(axis=0)]

    def corrections(self, big: int = 500, little: float = 0.1) -> dict[str, Any]:
        """How corrective clicks changed the error region they were placed in: how many there were, the
        median fraction fixed, and how many left an error region of at least `big` px less than `little`
        fixed — honoured by a disc around the click while the user's intent (that region) was missed."""
        done = [(a, f) for o in self.objects for a, f in o.fixed if a > 0]
        return {"clicks": len(done), "median_fixed": _finite(float(np.median([f for _, f in done]))) if done else None,
                f"regions_over_{big}px": sum(a >= big for a, _ in done),
                "intent_missed": sum(a >= big and f < little for a, f in done)}

    def setbacks(self, drop: float = 0.1) -> dict[str, Any]:
        """Clicks after which the IoU fell by more than `drop` (what a user feels as 'the click made it worse'),
        and the objects with at least one such click."""
        falls = [sum(a - b > drop for a, b in zip(o.ious, o.ious[1:])) for o in self.objects]
        return {"drop": drop, "clicks": int(sum(falls)), "objects": sum(f > 0 for f in falls)}

    @property
    def label(self) -> str:
        """Name for tables and legends, e.g. 'resnet18 FCN-8s + colour refinement' or '... + GrabCut'."""
        return f"{self.model} + {REFINE_LABELS.get(self.refine_method, self.refine_method)}" if self.refine else self.model

    def summary(self) -> dict[str, Any]:
        """The summary.json content."""
        out: dict[str, Any] = {"model": self.model, "label": self.label, "refine": self.refine,
                               "refine_method": self.refine_method if self.refine else None}
        for t in self.targets:
            k = target_key(t)
            out[f"noc@{k}"] = _finite(self.noc(t))
            out[f"failed@{k}"] = self.failed(t)
        out.update({
            "miou_per_click": [round(v, 6) for v in self.miou_per_click()],
            "objects": len(self.objects),
            "images": self.images,
            "skipped_images": len(self.skipped),
            "skipped": [{"image": i, "message": m} for i, m in self.skipped],
            "max_clicks": self.max_clicks,
            "targets": list(self.targets),
            "seconds": round(self.seconds, 3),
            "clicks_per_s": round(self.predictions / self.seconds, 3) if self.seconds > 0 else None,
            "stopped": self.stopped,
            "corrections": self.corrections(),
            "setbacks": self.setbacks(),
        })
        out.update(self.info)
        return out


def _finite(v: float) -> float | None:
    return round(v, 4) if np.isfinite(v) else None


def evaluate_object(predictor: PredictorLike, gt: np.ndarray, ignore: np.ndarray | None, *,
                    refine: bool = False, max_clicks: int = MAX_CLICKS,
                    targets: Sequence[float] = TARGETS, all_clicks: bool = False,
                    image_id: str = "", object_id: int = 0) -> ObjectResult:
    """Run the NoC protocol on one object of the image already set on `predictor`."""
    gt = np.asarray(gt, dtype=bool)
    x, y = interior_point(gt)
    clicks = [Click(float(x), float(y), True)]
    ious: list[float] = []
    fixed: list[tuple[int, float]] = []
    stop_at = max(targets)
    pred = None
    while True:
        prob = predictor.predict(clicks, refine=refine)
        if pred is not None:
            fixed.append(error_region_fixed(pred, np.asarray(prob) >= 0.5, gt, ignore, clicks[-1]))
        pred = np.asarray(prob) >= 0.5
        ious.append(iou(pred, gt, ignore))
        if len(ious) >= max_clicks or (ious[-1] >= stop_at and not all_clicks):
            break
        nxt = next_click(pred, gt, ignore, clicked=clicks)
        if nxt is None:  # nothing left to correct (or only already clicked pixels)
            break
        clicks.append(nxt)
    noc, failed = {}, {}
    for t in targets:
        hit = next((i + 1 for i, v in enumerate(ious) if v >= t), None)
        noc[t] = hit if hit is not None else max_clicks
        failed[t] = hit is None
    return ObjectResult(image_id, int(object_id), int(gt.sum()), ious, clicks, noc, failed, fixed)


def evaluate(predictor: PredictorLike, dataset: Any, *, split: str = "val", refine: bool = False,
             max_clicks: int = MAX_CLICKS, targets: Sequence[float] = TARGETS, limit: int | None = None,
             all_clicks: bool = False, progress: ProgressWriter | None = None,
             on_object: Callable[[int, ObjectResult], None] | None = None,
             should_stop: Callable[[], bool] | None = None, show_bar: bool = False,
             min_area: int = 0) -> NocResult:
    """Benchmark `predictor` on every object of `dataset` (VOCDevkit / FolderDataset interface).

    Images that cannot be read are skipped and counted; `limit` caps the number of objects evaluated; objects of
    fewer than `min_area` pixels (ignored pixels not counted) are left out, as if they were not in the data.
    """
    targets = tuple(sorted(float(t) for t in targets))
    if max_clicks < 1:
        raise IFCNError("--max-clicks must be at least 1.")
    result = NocResult(model=str(getattr(predictor, "name", type(predictor).__name__)),
                       refine=bool(refine), max_clicks=int(max_clicks), targets=targets,
                       refine_method=str(getattr(predictor, "refine_method", "colour")),
                       info={"split": split, **({"min_area": int(min_area)} if min_area > 0 else {})})
    progress = progress or ProgressWriter(enabled=False)
    ids = list(dataset.image_ids(split))
    progress.emit("start", command="noc", model=result.model, refine=result.refine,
                  images=len(ids), max_clicks=max_clicks, targets=list(targets))
    bar = _bar(len(ids), show_bar, result.label)
    t0 = time.perf_counter()
    try:
        for image_id in ids:
            if (limit is not None and len(result.objects) >= limit) or (should_stop and should_stop()):
                result.stopped = bool(should_stop and should_stop())
                break
            try:
                rgb, objs = _image_objects(dataset, image_id)
            except (DatasetError, ImageReadError) as e:
                result.skipped.append((image_id, str(e)))
                progress.emit("skipped", image=image_id, message=str(e))
                print(f"warning: skipped {image_id}: {e}", file=sys.stderr)
                continue
            finally:
                if bar is not None:
                    bar.update(1)
            if not objs:
                continue
            result.images += 1
            predictor.set_image(rgb)
            for object_id, mask, void in objs:
                if limit is not None and len(result.objects) >= limit:
                    break
                if min_area > 0 and np.count_nonzero(np.asarray(mask, dtype=bool)) < min_area:
                    continue
                obj = evaluate_object(predictor, mask, void, refine=refine, max_clicks=max_clicks,
                                      targets=targets, all_clicks=all_clicks,
                                      image_id=image_id, object_id=object_id)
                result.predictions += len(obj.ious)
                result.objects.append(obj)
                index = len(result.objects) - 1
                progress.emit("object", index=index, image=image_id, object=object_id,
                              ious=[round(v, 5) for v in obj.ious],
                              **{f"noc@{target_key(t)}": obj.noc[t] for t in targets})
                if on_object is not None:
                    on_object(index, obj)
    finally:
        if bar is not None:
            bar.close()
        result.seconds = time.perf_counter() - t0
    return result


def _image_objects(dataset: Any, image_id: str) -> tuple[np.ndarray, list[tuple[int, np.ndarray, np.ndarray]]]:
    """(rgb, [(object id, object mask, ignore mask)]) of one image, for either kind of source.

    Object folders give each object its own ignore pixels (128 in its mask file), instance maps share the
    image's void (255); either way ignored pixels leave the IoU and the click oracle.
    """
    from training.voc import instances

    if hasattr(dataset, "load_masks"):
        objs = dataset.load_masks(image_id)
        rgb = dataset.load_rgb(image_id)
        for k, obj, _ in objs:
            if obj.shape != rgb.shape[:2]:
                raise DatasetError(f"{dataset.mask_path(image_id, k)}: mask size {obj.shape[1]}x{obj.shape[0]} "
                                   f"differs from the image's {rgb.shape[1]}x{rgb.shape[0]}.")
        return rgb, [(k, obj, ign) for k, obj, ign in objs if obj.any()]
    sample = dataset.load(image_id)
    void = sample.objects == 255
    return sample.rgb, [(i, m, void) for i, m in instances(sample.objects)]


def _bar(total: int, show: bool, desc: str):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"NoC {desc}", unit="img", file=sys.stderr, dynamic_ncols=True)


# ----------------------------------------------------------------------------- CLI

def load_predictor(checkpoint: str | None, device: str = "auto", max_size: int = DEFAULT_MAX_SIZE,
                   net_size: int | None = DEFAULT_NET_SIZE,
                   zoom_target: int | None = None, brs: bool = True, snap: bool = True,
                   refine_method: str = "colour", learned: bool = True, full_res: bool = True):
    """A Predictor for a checkpoint path, 'grabcut' (classical baseline) or None (default model).

    `zoom_target`: the zoom-in crop size (see `models.predictor.ZoomIn`), None or 0 for no zoom-in;
    `brs`: f-BRS click enforcement (see `models.brs`); `snap`: edge snapping (see `models.edge_snap`);
    `refine_method`: what `--refine` runs, "colour" (`models.colour_refine`) or "grabcut" (`models.grabcut`);
    `learned`: snapping runs the model's learned refiner when it carries one (`models.refiner`); `full_res`: with
    snapping, a photo larger than `max_size` is snapped again at its own resolution (`edge_snap.snap_full_res`)."""
    from models.predictor import BRS, GRABCUT, EdgeSnap, Predictor

    if checkpoint is not None and checkpoint.lower() == GRABCUT:
        return Predictor.load(GRABCUT, device=device, max_size=max_size)
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise IFCNError(f"{checkpoint}: checkpoint file not found (give a .pt file or 'grabcut').")
    try:
        zoom = ZoomIn(target=int(zoom_target)) if zoom_target else None
    except ValueError as e:
        raise IFCNError(f"--zoom-in {zoom_target}: {e}") from None
    return Predictor.load(checkpoint, device=device, max_size=max_size, net_size=net_size, zoom_in=zoom,
                          brs=BRS() if brs else None, snap=EdgeSnap() if snap else None,
                          refine_method=refine_method, learned=learned, full_res=full_res)


def open_folders(images: str, masks: str):
    """An ObjectFolder (masks/<stem>_<k>.png) or a FolderDataset (masks/<stem>.png instance maps).

    The kind is detected from the mask names; a folder holding both kinds is refused as ambiguous.
    """
    from training.layouts import ObjectFolder, scan_masks
    from training.voc import FolderDataset

    plain = FolderDataset(images, masks)  # checks both folders and that there are images
    imgs = {stem: plain.image_path(stem) for stem in plain.image_ids()}
    per_object, instance_maps, _ = scan_masks(imgs, Path(masks))
    if per_object and instance_maps:
        raise DatasetError(
            f"{masks}: ambiguous layout: {len(instance_maps)} mask(s) named like an image (instance maps, "
            f"e.g. {instance_maps[0]}.png) and {len(per_object)} image(s) with per-object masks "
            "(<stem>_<k>.png). Keep one kind per folder.")
    if per_object:
        return ObjectFolder(images, masks)
    return plain


def describe_source(dataset: Any) -> str:
    """'<layout>: N images' for the line that says which layout was detected."""
    from training.layouts import LAYOUT_INSTANCES, LAYOUT_VOC

    if hasattr(dataset, "describe") and callable(dataset.describe):
        return dataset.describe()
    kind = LAYOUT_VOC if hasattr(dataset, "split_file") else LAYOUT_INSTANCES
    return f"{getattr(dataset, 'root', getattr(dataset, 'images_dir', ''))}: {kind}"


def open_dataset(args: argparse.Namespace):
    """The VOCDevkit, ObjectFolder or FolderDataset named by the command-line arguments."""
    from training.layouts import LAYOUT_COLLECTION, LAYOUT_OBJECTS, LAYOUT_VOC, ObjectFolder, detect_layout
    from training.voc import VOCDevkit

    data = getattr(args, "data", None)
    given = [n for n, v in (("--voc-root", args.voc_root), ("--images/--masks", args.images or args.masks),
                            ("--data", data)) if v]
    if len(given) > 1:
        raise DatasetError(f"give one of --voc-root, --images/--masks or --data, not {' and '.join(given)}.")
    if args.images or args.masks:
        if not (args.images and args.masks):
            raise DatasetError("--images and --masks go together: give both folders.")
        return open_folders(args.images, args.masks)
    if data:
        layout = detect_layout(data)
        if layout == LAYOUT_VOC:
            return VOCDevkit(data)
        if layout == LAYOUT_COLLECTION:
            raise DatasetError(f"{data}: a folder of several object folders; benchmark one at a time "
                               f"(e.g. {data}/<name>).")
        if layout != LAYOUT_OBJECTS:
            return open_folders(str(Path(data) / "images"), str(Path(data) / "masks"))
        return ObjectFolder(Path(data) / "images")
    if not args.voc_root:
        raise DatasetError("no data: give --voc-root DIR (a VOC devkit), --images DIR --masks DIR, or "
                           "--data DIR (images/ + masks/).")
    return VOCDevkit(args.voc_root)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn noc`."""
    parser.add_argument("--voc-root", help="VOC devkit (VOCdevkit/, VOC2012/ or a folder with that layout)")
    parser.add_argument("--split", default=None,
                        help="split to evaluate: a devkit's split (default val); for an object folder all "
                             "(default), or train / val (its fixed 10 %% hold-out)")
    parser.add_argument("--images", help="folder of images (instead of --voc-root)")
    parser.add_argument("--masks", help="folder of masks: one per object (<stem>_<k>.png: 0 background, 255 "
                                        "object, 128 ignore) or instance-index PNGs named like the images; "
                                        "the kind is detected")
    parser.add_argument("--data", help="a folder holding images/ and masks/ (either mask kind), or a VOC devkit")
    parser.add_argument("--out", help="output folder for summary.json, CSV and plot (required unless --check-data)")
    parser.add_argument("--check-data", action="store_true",
                        help="only open the data and say which layout was detected (no model, no output)")
    parser.add_argument("--checkpoint", default=None,
                        help="model checkpoint (.pt), or 'grabcut' for the classical baseline; "
                             "default: the shipped default model")
    parser.add_argument("--refine", action="store_true",
                        help="refine predictions as the annotator does (method: --refine-method)")
    parser.add_argument("--refine-method", choices=REFINE_METHODS, default="colour",
                        help="colour: colour models of the object and its surroundings added to the network's "
                             "output, edge-aware (the annotator's default, fast); grabcut: OpenCV GrabCut on a "
                             "crop around the object (default colour)")
    parser.add_argument("--compare", action="store_true",
                        help="also run with the other --refine setting and the GrabCut baseline; "
                             "all curves go into one plot, each run into OUT/<name>/")
    parser.add_argument("--max-clicks", type=int, default=MAX_CLICKS, help="clicks per object (20)")
    parser.add_argument("--all-clicks", action="store_true",
                        help="never stop early: every object gets max-clicks clicks (true mIoU curve)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most N objects")
    parser.add_argument("--min-area", type=int, default=0, metavar="PX",
                        help="leave out objects of fewer than PX pixels at the photo's resolution (default 0: "
                             "all); 9216, where `ifcn compare --by-size` starts its large class, gives a set "
                             "like the benchmarks' (GrabCut's and most of Berkeley's objects are that large)")
    parser.add_argument("--max-size", type=int, default=DEFAULT_MAX_SIZE,
                        help=f"the working image's longest side: masks are snapped and refined at this size "
                             f"(default {DEFAULT_MAX_SIZE}, as the annotator)")
    parser.add_argument("--net-size", type=int, default=DEFAULT_NET_SIZE, metavar="PX",
                        help="the network sees the working image reduced to this longest side (zoom-in's crops "
                             f"are never reduced below it; default {DEFAULT_NET_SIZE}, the scale the default model "
                             "was trained at); 0 = the network sees the --max-size image")
    parser.add_argument("--zoom-in", type=int, default=ZOOM_TARGET, metavar="PX",
                        help="from the second click on, run the network on a crop around the object "
                             f"enlarged to PX (RITM's zoom-in; default {ZOOM_TARGET}, the annotator's Zoom In "
                             "on the Object, on by default); 0 = the whole image for every click")
    parser.add_argument("--brs", action=argparse.BooleanOptionalAction, default=True,
                        help="f-BRS (Sofiiuk et al. 2020): when the network ignores a click, adjust its "
                             "features until the clicked pixels get their labels, as the annotator does "
                             "(default on; --no-brs: the network's plain output)")
    parser.add_argument("--snap", action=argparse.BooleanOptionalAction, default=True,
                        help="edge snapping: the network's probability guided-filtered with the photo, so the "
                             "boundary follows its edges, as the annotator does (default on; --no-snap: off)")
    parser.add_argument("--full-res", action=argparse.BooleanOptionalAction, default=True,
                        help="with snapping on, a photo larger than --max-size gets its mask snapped again at its "
                             "own resolution, as the annotator does (default on; --no-full-res: upscaled only)")
    parser.add_argument("--learned-refiner", action=argparse.BooleanOptionalAction, default=True,
                        help="with snapping on, a model that carries a learned refiner (models.refiner) snaps "
                             "with it, as the annotator does (default on; --no-learned-refiner: the guided "
                             "filter instead)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--progress-json", action="store_true",
                        help="JSON progress lines on stdout (the table then goes to stderr)")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn noc`."""
    progress = ProgressWriter(enabled=bool(args.progress_json))
    human = sys.stderr if args.progress_json else sys.stdout
    try:
        if not args.out and not args.check_data:
            raise IFCNError("give --out DIR (the folder for summary.json, the CSV and the plot).")
        if args.min_area < 0:
            raise IFCNError(f"--min-area {args.min_area}: give a number of pixels, 0 or more.")
        dataset = open_dataset(args)
        split = args.split or ("val" if hasattr(dataset, "split_file") else "all")
        described = describe_source(dataset)
        print(f"data: {described}", file=human)
        progress.emit("data", text=described, split=split, images=len(dataset.image_ids(split)))
        if args.check_data:
            return 0
        runs = [(args.checkpoint, args.refine)]
        if args.compare:
            if args.checkpoint is None or args.checkpoint.lower() != "grabcut":
                runs.append((args.checkpoint, not args.refine))
            runs.append(("grabcut", False))
        results: list[NocResult] = []
        for checkpoint, refine in runs:
            predictor = load_predictor(checkpoint, device=args.device, max_size=args.max_size,
                                       net_size=args.net_size or None, zoom_target=args.zoom_in, brs=args.brs,
                                       snap=args.snap, refine_method=args.refine_method,
                                       learned=args.learned_refiner, full_res=args.full_res)
            res = evaluate(predictor, dataset, split=split, refine=refine,
                           max_clicks=args.max_clicks, limit=args.limit, all_clicks=args.all_clicks,
                           progress=progress, show_bar=not args.progress_json, min_area=args.min_area)
            info = predictor.info()
            res.info.update({"checkpoint": checkpoint or "default",
                             "zoom_in": predictor.zoom_in.target if info["zoom_in"] else 0,
                             "max_size": args.max_size, "net_size": info.get("net_size"),
                             "brs": bool(info["brs"]), "snap": bool(info.get("snap", False)),
                             "full_res": bool(info.get("full_res", False)),
                             "learned_refiner": bool(info.get("learned_refiner", False)),
                             "source": str(getattr(dataset, "root", getattr(dataset, "images_dir", ""))),
                             "device": str(getattr(predictor, "device", "cpu"))})
            results.append(res)
            summary = res.summary()
            progress.emit("end", status="completed", seconds=res.seconds, objects=len(res.objects),
                          **{k: summary[k] for k in summary if k.startswith(("noc@", "failed@"))},
                          miou_per_click=summary["miou_per_click"])
    except IFCNError as e:
        progress.emit("error", message=str(e))
        raise
    out = Path(args.out)
    paths = write_outputs(out, results[0], compare=results[1:])
    if len(results) > 1:
        for r in results:
            sub = out / _slug(r.label)
            write_outputs(sub, r)
        atomic_write_text(out / "compare.json",
                          json.dumps([r.summary() for r in results], indent=2) + "\n")
    print(format_table(results), file=human)
    skipped = sum(len(r.skipped) for r in results[:1])
    if skipped:
        print(f"{skipped} image(s) skipped (unreadable or missing files; see summary.json).", file=human)
    print(f"wrote {paths['summary']}, {paths['csv'].name}, {paths['plot'].name}", file=human)
    if not results[0].objects:
        print("warning: no objects were evaluated.", file=sys.stderr)
    return 0


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:60]
