"""`ifcn convert`: the annotator's output folder to COCO, labelme or YOLO-seg, and labelme/COCO back into it.

Export (``--to coco|labelme|yolo``) reads what the annotator saved (found by `training.annotations`,
the reader `ifcn devkit` uses): one object per instance of `SegmentationObject/<stem>.png` (its visible
pixels), its class from `SegmentationClass/<stem>.png`, VOC's 255 as the ignore region, class names from
the folder's class list (classes.json, else the sidecars' class tables). Every export is a self-contained folder with the images hardlinked (or
copied) beside the labels:

- coco: ``images/`` + ``annotations/instances_default.json`` (RLE; ``--polygons`` for polygons);
- labelme: ``<image>`` + ``<stem>.json`` side by side (polygons; ``--masks`` for exact mask shapes), and
  ``labels.txt`` (the class list as labelme's converters take it);
- yolo: ``images/train``, ``labels/train`` (and ``val`` with ``--holdout``) + ``data.yaml``.

Import (``--from labelme|coco``) writes the annotator's own files into ``--out`` (the folder the annotator
opens, usually the image folder): the sidecar ``annotations/<stem>.json`` and both VOC PNGs, exactly as
the annotator saves them, so every object opens finished and editable. Class names already in use in
``--out`` keep their indices. What each format loses is in docs/formats.md.

With ``--progress-json`` stdout carries JSON lines (format of `training.progress`): ``convert`` (the
summary fields) then ``end``, or ``error`` with a ``message``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from models.class_list import (ClassDef, ClassTable, folder_class_file, read_folder_classes, voc_color,
                               write_class_file)
from models.class_list import read_labels_file as read_labels
from models.errors import ClassListError, DatasetError, IFCNError, ImageReadError
from models.fileio import (atomic_write_bytes, atomic_write_text, encode_index_png, read_index_png, voc_colormap,
                           voc_instances)
from training.annotations import AnnotatedImage, find_annotations, split_holdout
from training.formats import (BACKGROUND_LABEL, IGNORE_LABEL, VOC_CLASSES, VOID, Dataset, ImageAnnotation,
                              Instance, default_class_name)
from training.formats import coco, labelme, yolo
from training.formats.coco import runs

FORMATS = ("coco", "labelme", "yolo")
IMPORT_FORMATS = ("labelme", "coco")
MARKER = ".ifcn-convert"  # JSON listing what an export wrote, so exporting again replaces exactly that
COCO_JSON = Path("annotations") / "instances_default.json"
# The annotator's own output (annotator/label_file.py owns it; these names and the sidecar schema are its).
CLASS_DIR, OBJECT_DIR, SIDECAR_DIR = "SegmentationClass", "SegmentationObject", "annotations"
SIDECAR_FORMAT, SIDECAR_VERSION = "ifcn-annotation", 1
MAX_SIDECAR_BYTES = 64 * 2**20
MAX_INPUT_JSON_BYTES = 2 * 2**30


@dataclass
class ConvertSummary:
    """What a conversion read and wrote."""

    direction: str  # "export" or "import"
    format: str
    source: str
    out: str
    images: int = 0
    objects: int = 0
    classes: int = 0
    ignore_regions: int = 0
    holes_filled: int = 0  # objects written as polygons whose holes were filled
    ignore_dropped: int = 0  # ignore regions the target cannot hold
    shapes_skipped: int = 0  # labelme lines and points (no region)
    files: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready), without the list of files."""
        d = asdict(self)
        d.pop("files")
        return d

    def text(self) -> str:
        """A few human-readable lines."""
        verb = "exported" if self.direction == "export" else "imported"
        lines = [f"{verb} {self.images} image(s), {self.objects} object(s), {self.classes} class(es) "
                 f"{'as' if self.direction == 'export' else 'from'} {self.format}: {self.source} -> {self.out}"]
        if self.ignore_regions:
            lines.append(f"  {self.ignore_regions} image(s) with an ignore region")
        if self.holes_filled:
            lines.append(f"  {self.holes_filled} object(s) have holes, filled in the polygons (see docs/formats.md;"
                         + (" --masks keeps them)" if self.format == "labelme" else
                            " RLE keeps them: leave out --polygons)" if self.format == "coco" else
                            " YOLO has no holes)"))
        if self.ignore_dropped:
            lines.append(f"  {self.ignore_dropped} ignore region(s) not written: "
                         + "YOLO has no ignore regions")
        if self.shapes_skipped:
            lines.append(f"  {self.shapes_skipped} line/point shape(s) skipped (not regions)")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} image(s):")
            lines += [f"    {s['image']}: {s['reason']}" for s in self.skipped[:10]]
            if len(self.skipped) > 10:
                lines.append(f"    … and {len(self.skipped) - 10} more")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- the annotator's folder

def _read_json_file(path: Path, limit: int) -> Any:
    """Parsed JSON of `path` (DatasetError naming it when unreadable, too large or not JSON)."""
    try:
        if not path.is_file():
            raise DatasetError(f"{path}: no such file.")
        if path.stat().st_size > limit:
            raise DatasetError(f"{path}: over {limit // 2**20} MB, too large to read.")
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise DatasetError(f"{path}: not valid JSON ({str(e)[:200]}).") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot be read ({e.strerror or e}).") from None


def class_table(out_dir: str | os.PathLike) -> dict[int, str]:
    """Class index -> name: the output folder's class list (`classes.json`, models.class_list), completed
    for the indices it lacks by the sidecars' class tables (folders annotated before it existed; the newest
    sidecar wins). A broken classes.json is a DatasetError naming it."""
    try:
        listed = read_folder_classes(out_dir)
    except ClassListError as e:
        raise DatasetError(f"{e} Fix or delete it (the annotator rebuilds it from the annotations).") from None
    table = _sidecar_class_table(out_dir)
    table.update({c.index: c.name for c in listed or ()})
    return table


def _sidecar_class_table(out_dir: str | os.PathLike) -> dict[int, str]:
    """Class index -> name from the class tables of the sidecars in `out_dir` (the newest sidecar wins)."""
    folder = Path(out_dir) / SIDECAR_DIR
    try:
        sidecars = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return {}
    table: dict[int, str] = {}
    for path in sidecars:
        try:
            doc = _read_json_file(path, MAX_SIDECAR_BYTES)
        except DatasetError:
            continue  # the annotator reports broken sidecars; their PNGs are still exported
        if not isinstance(doc, dict) or doc.get("format") != SIDECAR_FORMAT or not isinstance(doc.get("classes"), list):
            continue
        for c in doc["classes"]:
            if isinstance(c, dict) and isinstance(c.get("index"), int) and 1 <= c["index"] <= 254 \
                    and isinstance(c.get("name"), str) and c["name"].strip():
                table[c["index"]] = c["name"].strip()
    return table


def _load_pngs(a: AnnotatedImage, classes: dict[int, str]) -> ImageAnnotation:
    """The objects (one an instance index, class = the majority of its pixels) and ignore region of the
    annotator's PNGs of one image; ValueError with the reason when they cannot be read."""
    try:
        inst = read_index_png(a.object_png)
        cls = read_index_png(a.class_png) if a.class_png is not None else None
    except ImageReadError as e:
        raise ValueError(str(e)) from None
    if cls is not None and cls.shape != inst.shape:
        raise ValueError(f"{a.class_png.name}: its size differs from {a.object_png.name}")
    img = ImageAnnotation(image=a.image, height=inst.shape[0], width=inst.shape[1])
    for k, mask, index in voc_instances(inst, cls, VOID):
        if index not in classes:
            raise ValueError(f"class {index} of object {k} is in no class table (resave the image in the annotator)")
        img.objects.append(Instance(index, mask))
    void = (inst == VOID) if cls is None else ((inst == VOID) | (cls == VOID))
    img.void = void if void.any() else None
    return img


def _classes_in(a: AnnotatedImage) -> set[int]:
    """The class indices of one image's objects, from its class PNG (1 without one, as the annotator reads it)."""
    if a.class_png is None:
        return {1}
    vals = np.unique(read_index_png(a.class_png))
    return {int(v) for v in vals if v not in (0, VOID)}


def read_annotator_output(annotations_dir: str | os.PathLike, images_dir: str | os.PathLike | None = None) -> Dataset:
    """The finished objects the annotator saved in `annotations_dir` (read one image at a time by
    `Dataset.loaded()`); images that cannot be used are in `skipped`, with reasons."""
    out = Path(annotations_dir)
    found, skipped = find_annotations(out, images_dir, min_area=0)
    names = class_table(out)
    data = Dataset(classes={}, skipped=skipped)
    sources: dict[Path, AnnotatedImage] = {}
    used: set[int] = set()
    for a in found:
        if not (out / SIDECAR_DIR / f"{a.stem}.json").is_file():  # plain VOC PNGs: no class table names them
            try:
                used |= _classes_in(a)
            except ImageReadError as e:
                data.skipped.append({"image": a.image.name, "reason": str(e)})
                continue
        sources[a.image] = a
        data.images.append(ImageAnnotation(image=a.image, height=0, width=0))  # size read with the masks
    data.classes = {i: names.get(i, default_class_name(i)) for i in sorted(set(names) | used)}
    data.loader = lambda header: _load_pngs(sources[header.image], data.classes)
    return data


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image as the annotator shows it (EXIF orientation applied); ImageReadError if not."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such image.") from None
    except Exception as e:  # PIL raises many types for garbage
        raise ImageReadError(f"{path}: not a readable image ({e}).") from None
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def _sidecar_text(img: ImageAnnotation, classes: dict[int, str]) -> str:
    """The annotator's sidecar (schema in annotator/label_file.py) for finished objects without clicks."""
    cmap = voc_colormap()
    doc = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION, "image": img.image.name,
           "size": [img.width, img.height],
           "classes": [{"index": i, "name": n, "color": [int(v) for v in cmap[i]]} for i, n in sorted(classes.items())],
           "objects": [{"instance": k, "class": o.class_index, "clicks": [], "strokes": [],
                        "mask": {"rle": runs(o.mask.ravel())}} for k, o in enumerate(img.objects, start=1)],
           "void": None if img.void is None else {"rle": runs(img.void.ravel())},
           "current": None}
    return json.dumps(doc, separators=(",", ":"))


def _has_objects(sidecar: Path, object_png: Path) -> bool:
    """True when the annotator's files hold an object (finished or not); an unreadable file counts as one."""
    if sidecar.exists():
        try:
            doc = _read_json_file(sidecar, MAX_SIDECAR_BYTES)
        except DatasetError:
            return True
        return not isinstance(doc, dict) or bool(doc.get("objects")) or doc.get("current") is not None
    if object_png.exists():
        try:
            return bool(read_index_png(object_png).any())
        except ImageReadError:
            return True
    return False


def write_annotator_output(data: Dataset, out: str | os.PathLike, overwrite: bool = False) -> ConvertSummary:
    """Write each image's sidecar and VOC PNGs into `out` as the annotator saves them.

    An image that already has objects in `out` is skipped unless `overwrite` (one opened and left empty is
    not); an image file that is missing or whose size differs from the annotation's is skipped (reasons
    in the summary).
    """
    out = Path(out)
    summary = ConvertSummary("import", "", "", str(out), classes=len(data.classes))
    palette = voc_colormap()  # the class colours written are the VOC colours of their indices
    stems: set[str] = set()
    for img in data.loaded():
        name = img.image.name
        stem = img.image.stem
        if not img.objects and img.void is None:
            continue
        files = [out / SIDECAR_DIR / f"{stem}.json", out / CLASS_DIR / f"{stem}.png", out / OBJECT_DIR / f"{stem}.png"]
        if stem in stems:
            summary.skipped.append({"image": name, "reason": f"another image named {stem}.* was imported; the "
                                                             "annotator keeps one annotation per name stem"})
            continue
        if len(img.objects) > 254:
            summary.skipped.append({"image": name, "reason": f"{len(img.objects)} objects; the annotator holds 254"})
            continue
        try:
            if _image_size(img.image) != (img.height, img.width):
                h, w = _image_size(img.image)
                raise ImageReadError(f"{img.image}: the image is {w}x{h} but its annotation is for "
                                     f"{img.width}x{img.height}.")
        except ImageReadError as e:
            summary.skipped.append({"image": name, "reason": str(e)})
            continue
        if not overwrite and _has_objects(files[0], files[2]):
            summary.skipped.append({"image": name, "reason": f"already annotated in {out} (--overwrite replaces it)"})
            continue
        text = _sidecar_text(img, data.classes)
        if len(text) > MAX_SIDECAR_BYTES:
            summary.skipped.append({"image": name, "reason": "the annotation would be over the annotator's 64 MB"})
            continue
        cls = np.zeros((img.height, img.width), dtype=np.uint8)
        inst = np.zeros_like(cls)
        for k, o in enumerate(img.objects, start=1):  # later objects win, as annotator.state.compose
            cls[o.mask] = o.class_index
            inst[o.mask] = k
        if img.void is not None:  # the ignore region: 255 over everything, as annotator.void_layer writes it
            cls[img.void] = inst[img.void] = VOID
        atomic_write_text(files[0], text)  # sidecar first, then the PNGs, as the annotator writes
        atomic_write_bytes(files[1], encode_index_png(cls, palette))
        atomic_write_bytes(files[2], encode_index_png(inst, palette))
        stems.add(stem)
        summary.images += 1
        summary.objects += len(img.objects)
        summary.ignore_regions += img.void is not None
        summary.files += [str(f) for f in files]
    return summary


# ----------------------------------------------------------------------------- class indices on import

def assign_indices(wanted: list[tuple[str, int | None]], existing: dict[int, str]) -> dict[str, int]:
    """Class name -> annotator index for imported names: the index the name has in `existing`, else its
    preferred index if free, else its VOC index if free, else the lowest free one. DatasetError past 254."""
    by_name = {n: i for i, n in existing.items()}
    taken = set(existing)
    out: dict[str, int] = {}
    for name, preferred in wanted:
        if name in out:
            continue
        if name in by_name:
            out[name] = by_name[name]
            continue
        voc = VOC_CLASSES.index(name) + 1 if name in VOC_CLASSES else None
        pick = next((i for i in (preferred, voc) if i is not None and 1 <= i <= 254 and i not in taken), None)
        if pick is None:
            pick = next((i for i in range(1, 255) if i not in taken), None)
        if pick is None:
            raise DatasetError(f"more than 254 classes (at '{name}'); the annotator holds at most 254.")
        out[name] = pick
        taken.add(pick)
    return out


def read_labels_file(path: str | os.PathLike) -> list[str]:
    """Class names of a labelme-style labels.txt (one a line; `__ignore__` and `_background_` left out)."""
    return list(read_labels(path).names)


def store_class_list(out: str | os.PathLike, classes: dict[int, str]) -> None:
    """Add the imported classes the output folder's class list lacks to its classes.json (so the annotator
    never gives their indices to new classes)."""
    table = read_folder_classes(out)
    if table is None:
        table = ClassTable(())
        for i, n in sorted(_sidecar_class_table(out).items()):
            try:
                table.merge([ClassDef(i, n, voc_color(i))])
            except ValueError:
                continue  # a name the list cannot hold (repeated, control characters): "class N" in the annotator
    before = len(table)
    for i, name in sorted(classes.items()):
        if i not in table and table.find(name) is None:
            try:
                table.add(name, index=i)
            except ValueError:
                continue
    if len(table) != before or not folder_class_file(out).exists():
        write_class_file(folder_class_file(out), table)


def _read_labelme(path: Path) -> dict[str, Any]:
    """A checked labelme document (ValueError with the reason when it is not one)."""
    try:
        doc = _read_json_file(path, MAX_INPUT_JSON_BYTES)
    except DatasetError as e:
        raise ValueError(str(e)) from None
    labelme.check_document(doc)
    return doc


def read_labelme_folder(folder: str | os.PathLike, images_dir: str | os.PathLike | None, existing: dict[int, str],
                        labels: list[str] | None = None) -> tuple[Dataset, int]:
    """(dataset, shapes skipped because they are no region) of the labelme files in `folder`.

    Each file is read twice: for its labels (the class table is fixed before any image is written), then
    for its shapes when `Dataset.loaded()` reaches it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder of labelme files.")
    images = Path(images_dir) if images_dir is not None else None
    data = Dataset(classes={})
    sources: dict[Path, Path] = {}  # image -> its labelme file
    found: set[str] = set()
    not_regions = 0
    for path in sorted(folder.glob("*.json")):
        try:
            doc = _read_labelme(path)
        except ValueError as e:
            data.skipped.append({"image": path.name, "reason": str(e)})
            continue
        image = labelme.image_path_of(doc, path, images)
        if image in sources:
            data.skipped.append({"image": path.name, "reason": f"{sources[image].name} annotates {image.name} too"})
            continue
        found |= labelme.labels_of(doc)
        not_regions += sum((s.get("shape_type") or "polygon") not in labelme.REGION_TYPES for s in doc["shapes"])
        sources[image] = path
        data.images.append(ImageAnnotation(image=image, height=doc["imageHeight"], width=doc["imageWidth"]))
    if not sources:
        raise DatasetError(f"{folder}: no labelme files (<image>.json with 'shapes' and 'imagePath') here.")
    if labels is not None:
        unknown = sorted(found - set(labels))
        if unknown:
            raise DatasetError(f"labels {unknown[:5]} are used but not in the class list given with --labels.")
        wanted = [(n, k) for k, n in enumerate(labels, start=1)]
    else:
        wanted = [(n, None) for n in sorted(found)]
    index = assign_indices(wanted, existing)
    data.classes = {**existing, **{i: n for n, i in index.items()}}

    def load(header: ImageAnnotation) -> ImageAnnotation:
        path = sources[header.image]
        doc = _read_labelme(path)
        if labelme.labels_of(doc) - set(index):
            raise ValueError(f"{path.name} changed while it was imported")
        try:
            return labelme.from_labelme(doc, header.image, index)[0]
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path.name}: malformed shape ({str(e)[:200]})") from None

    data.loader = load
    return data, not_regions


def read_coco_file(path: str | os.PathLike, images_dir: str | os.PathLike | None,
                   existing: dict[int, str]) -> Dataset:
    """The images of a COCO instances file, class indices fitted to the class table `existing`."""
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder; --annotations needs the COCO JSON file.")
    images = Path(images_dir) if images_dir is not None else default_coco_images(path)
    data = coco.from_coco(_read_json_file(path, MAX_INPUT_JSON_BYTES), path, images)
    index = assign_indices([(n, i) for i, n in sorted(data.classes.items())], existing)
    remap = {i: index[n] for i, n in data.classes.items()}
    load = data.loader

    def load_remapped(header: ImageAnnotation) -> ImageAnnotation:
        img = load(header)
        for o in img.objects:
            o.class_index = remap[o.class_index]
        return img

    data.loader = load_remapped
    data.classes = {**existing, **{i: n for n, i in index.items()}}
    return data


def default_coco_images(path: Path) -> Path:
    """Where a COCO file's images are when --images is not given: `images/` beside its `annotations/`
    folder (CVAT's and `ifcn convert`'s layout), else the file's folder."""
    sibling = path.parent.parent / "images"
    return sibling if path.parent.name == "annotations" and sibling.is_dir() else path.parent


# ----------------------------------------------------------------------------- export

def _prepare_export(out: Path) -> None:
    """Make `out`, or clear the files a previous export listed there; refuse other non-empty folders."""
    if out.exists() and not out.is_dir():
        raise IFCNError(f"{out}: exists and is not a folder; choose another --out.")
    marker = out / MARKER
    if out.is_dir() and any(out.iterdir()):
        if not marker.is_file():
            raise IFCNError(f"{out}: the folder is not empty and was not written by `ifcn convert`; choose an "
                            "empty or new --out folder.")
        try:
            previous = json.loads(marker.read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            previous = []
        for rel in previous if isinstance(previous, list) else []:
            p = out / str(rel)
            if isinstance(rel, str) and not Path(rel).is_absolute() and ".." not in Path(rel).parts:
                p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _place(src: Path, dst: Path, link: bool) -> None:
    """Hardlink `src` to `dst` (a copy when linking is impossible or not wanted)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def export(data: Dataset, fmt: str, out: str | os.PathLike, *, polygons: bool = False, masks: bool = False,
           holdout: float = 0.0, seed: int = 0, link: bool = True) -> ConvertSummary:
    """Write `data` in format `fmt` ("coco", "labelme" or "yolo") into the folder `out`, one image at a time."""
    if fmt not in FORMATS:
        raise IFCNError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    out = Path(out)
    _prepare_export(out)
    summary = ConvertSummary("export", fmt, "", str(out), classes=len(data.classes))
    written: list[Path] = []

    def write_text(rel: Path, text: str) -> None:
        atomic_write_text(out / rel, text)
        written.append(rel)

    def place(src: Path, rel: Path) -> None:
        _place(src, out / rel, link)
        written.append(rel)

    builder = coco.CocoBuilder(polygons=polygons)
    numbers = yolo.class_numbers(data.classes)
    _, val = split_holdout([img.image.stem for img in data.images], holdout, seed)
    held = set(val)
    for img in data.loaded():
        if fmt == "coco":
            place(img.image, Path("images") / img.image.name)
            builder.add(img, img.image.name)
        elif fmt == "labelme":
            place(img.image, Path(img.image.name))
            doc, filled = labelme.to_labelme(img, img.image.name, data.classes, masks=masks)
            summary.holes_filled += filled
            write_text(Path(f"{img.image.stem}.json"), json.dumps(doc, ensure_ascii=False, indent=2))
        else:
            split = "val" if img.image.stem in held else "train"
            place(img.image, Path("images") / split / img.image.name)
            lines, filled = yolo.label_lines(img, numbers)
            summary.holes_filled += filled
            summary.ignore_dropped += img.void is not None
            write_text(Path("labels") / split / f"{img.image.stem}.txt", "".join(f"{s}\n" for s in lines))
        summary.images += 1
        summary.objects += len(img.objects)
        summary.ignore_regions += img.void is not None
    if fmt == "coco":
        summary.holes_filled = builder.holes_filled
        write_text(COCO_JSON, json.dumps(builder.document(data.classes), separators=(",", ":")))
    elif fmt == "labelme":  # labelme's converters (labelme2voc, labelme2coco) take the class list as labels.txt
        names = [data.classes[i] for i in sorted(data.classes)]
        write_text(Path("labels.txt"), "".join(f"{n}\n" for n in [IGNORE_LABEL, BACKGROUND_LABEL, *names]))
    else:
        write_text(Path("data.yaml"), yolo.data_yaml(str(out.resolve()), "images/train",
                                                     "images/val" if val else "images/train", data.classes))
    summary.skipped = list(data.skipped)
    summary.files = [str(out / p) for p in written]
    atomic_write_text(out / MARKER, json.dumps({"format": fmt, "files": [p.as_posix() for p in written]}, indent=1))
    return summary


# ----------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ifcn convert`."""
    a = parser.add_argument
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--to", choices=FORMATS, help="export the annotator's output folder ANNOTATIONS to this format")
    way.add_argument("--from", dest="from_", choices=IMPORT_FORMATS,
                     help="import ANNOTATIONS (a folder of labelme files, or a COCO JSON file) into OUT")
    a("--annotations", required=True,
      help="export: the annotator's output folder; import: the labelme folder or the COCO JSON file")
    a("--images", help="folder of the images (export: default ANNOTATIONS/JPEGImages if it exists, else "
                       "ANNOTATIONS; import: default beside the labelme files / the COCO file, or images/ "
                       "beside the COCO file's annotations/ folder)")
    a("--out", required=True, help="export: a new or empty folder (or one written by ifcn convert); "
                                   "import: the annotator's output folder, usually the image folder")
    a("--polygons", action="store_true", help="coco: polygons instead of RLE (holes are filled)")
    a("--masks", action="store_true", help="labelme: exact mask shapes (labelme 5.3+) instead of polygons")
    a("--holdout", type=float, default=0.0, help="yolo: share of images in a val split (default 0: val = train)")
    a("--seed", type=int, default=0, help="yolo: seed of the --holdout split")
    a("--copy", action="store_true", help="copy the images instead of hardlinking them")
    a("--labels", help="import labelme: class list (labels.txt, one name a line) fixing the class order")
    a("--overwrite", action="store_true", help="import: replace annotations that already exist in OUT")
    a("--progress-json", action="store_true", help="JSON lines on stdout (see the module docstring)")


def run(args: argparse.Namespace) -> int:
    """Entry point of `ifcn convert`."""
    from training.progress import ProgressWriter

    progress = ProgressWriter(enabled=bool(args.progress_json))
    human = sys.stderr if args.progress_json else sys.stdout
    try:
        if args.to:
            data = read_annotator_output(args.annotations, args.images)
            if not data.images:
                raise DatasetError(f"{args.annotations}: no finished objects to export (annotate and save some "
                                   "first; unfinished objects are not exported).")
            summary = export(data, args.to, args.out, polygons=args.polygons, masks=args.masks,
                             holdout=args.holdout, seed=args.seed, link=not args.copy)
            summary.source = str(args.annotations)
        else:
            existing = class_table(args.out)
            shapes_skipped = 0
            if args.from_ == "labelme":
                labels = read_labels_file(args.labels) if args.labels else None
                data, shapes_skipped = read_labelme_folder(args.annotations, args.images, existing, labels)
            else:
                data = read_coco_file(args.annotations, args.images, existing)
            summary = write_annotator_output(data, args.out, overwrite=args.overwrite)
            if summary.images:
                store_class_list(args.out, data.classes)
            summary.format, summary.source = args.from_, str(args.annotations)
            summary.shapes_skipped = shapes_skipped
            summary.skipped = data.skipped + summary.skipped
        print(summary.text(), file=human, flush=True)
        if not args.to and summary.images:
            images = args.images or (args.annotations if args.from_ == "labelme"
                                     else default_coco_images(Path(args.annotations)))
            print(f"open them with: ifcn annotate {images}"
                  + ("" if _default_output(images) == Path(args.out).resolve()
                     else f"  (then File → Change Output Folder… {args.out})"), file=human)
        progress.emit("convert", **summary.to_dict())
    except IFCNError as e:
        progress.emit("error", message=str(e))
        raise
    progress.emit("end", status="completed")
    return 0


def _default_output(images: str | os.PathLike) -> Path:
    """Where the annotator saves for an image folder (the folder, or the parent of a VOC JPEGImages/)."""
    folder = Path(images).resolve()
    return folder.parent if folder.name == "JPEGImages" else folder
