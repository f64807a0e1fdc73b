"""The output folder's class list against its annotations (Qt-free): migration, reconciliation, usage.

The folder's `classes.json` (models.class_list) is the one truth for class names. A folder annotated before
it existed gets one built from its sidecars' class tables (the newest sidecar wins an index). When an image
opens, its sidecar's table is compared with the folder's list: a class its objects use that the list lacks
is added (its index is taken, so no new class can collide with it); a used index the sidecar names
differently is a disagreement, reported, never merged (a sidecar cannot rename a folder's class).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from annotator.label_file import FORMAT as SIDECAR_FORMAT
from annotator.label_file import MAX_SIDECAR_BYTES, SIDECAR_DIR, paths_for
from models.class_list import ClassDef, ClassTable, check_name, read_small_file, voc_color
from models.errors import ClassListError, ImageReadError
from models.fileio import read_index_png, voc_instances

#: Bytes of a sidecar's head searched for its class table when a folder's list is built from sidecars
#: (the writer puts "classes" before the objects' masks).
HEAD_BYTES = 64 * 1024
VOID = 255


def _table_entries(raw: object) -> list[ClassDef]:
    """The valid entries of a sidecar's "classes" list (invalid ones dropped: a sidecar is untrusted)."""
    out: list[ClassDef] = []
    if not isinstance(raw, list):
        return out
    for row in raw[:254]:
        try:
            index, color = row["index"], row["color"]
            if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= 254:
                continue
            if not isinstance(color, list) or len(color) != 3 or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in color):
                continue
            out.append(ClassDef(index, check_name(row["name"]), (color[0], color[1], color[2])))
        except (TypeError, KeyError, ValueError):
            continue
    return out


def sidecar_head_classes(path: Path) -> list[ClassDef]:
    """The class table of a sidecar, read from its first HEAD_BYTES (empty when not found or unreadable)."""
    try:
        head = read_small_file(path, HEAD_BYTES, head=True).decode("utf-8", "replace")
    except ClassListError:
        return []
    if f'"format":"{SIDECAR_FORMAT}"' not in head.replace(" ", ""):
        return []
    at = head.find('"classes":')
    if at < 0:
        return []
    try:
        raw, _ = json.JSONDecoder().raw_decode(head, at + len('"classes":'))
    except (ValueError, RecursionError):
        return []
    return _table_entries(raw)


def table_from_sidecars(out_dir: Path, start: ClassTable | None = None) -> tuple[ClassTable, int]:
    """(a class list for a folder that has none, how many sidecars gave classes): the classes of the
    sidecars in `out_dir/annotations`, the newest sidecar's name winning an index, then `start`'s."""
    table = ClassTable(())
    try:
        sidecars = sorted((p for p in (out_dir / SIDECAR_DIR).glob("*.json") if p.is_file()),
                          key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        sidecars = []
    used = 0
    for p in sidecars:
        entries = sidecar_head_classes(p)
        used += bool(entries)
        for c in sorted(entries, key=lambda c: c.index):
            if c.index not in table and table.find(c.name) is None:
                table.merge([c])
    if start is not None:
        for c in start:
            if table.find(c.name) is None and len(table) < 254:
                table.add(c.name, c.color, index=c.index)
    return table, used


@dataclass
class Reconciled:
    """What comparing one image's sidecar with the folder's class list found."""

    added: list[ClassDef] = field(default_factory=list)
    disagreements: list[tuple[int, str, str]] = field(default_factory=list)  # (index, sidecar's name, list's)

    def message(self, sidecar: Path, class_file: Path) -> str:
        """A message for the user naming the files, or "" when there is nothing to say."""
        if not self.disagreements:
            return ""
        rows = "\n".join(f"  • class {i}: '{theirs}' in the annotation, '{ours}' in the class list"
                         for i, theirs, ours in self.disagreements[:10])
        more = f"\n  … and {len(self.disagreements) - 10} more" if len(self.disagreements) > 10 else ""
        return (f"{sidecar} was saved with a class table that disagrees with the folder's class list "
                f"({class_file}):\n{rows}{more}\n\nThe class list is kept: these objects are shown (and saved) "
                "under the list's names. If the annotation's names are right, select each object and pick its "
                "class in the Objects list (add the class first if it is missing).")


def reconcile(table: ClassTable, sidecar_classes: Sequence[ClassDef], used: Iterable[int]) -> Reconciled:
    """Compare an image's class table with the folder's `table` for the class indices its objects use:
    add the used classes the table lacks (the sidecar's name when valid and free, else "class N"), and
    list the used indices the sidecar names differently (neither a rename nor a merge)."""
    theirs = {c.index: c for c in sidecar_classes}
    out = Reconciled()
    for index in sorted(set(used)):
        if not 1 <= index <= 254:
            continue
        mine = table.get(index) if index in table else None
        other = theirs.get(index)
        if mine is None:
            name = other.name if other is not None and table.find(other.name) is None else f"class {index}"
            if table.find(name) is not None:
                name = f"class {index} ({len(table)})"
            color = other.color if other is not None else voc_color(index)
            try:
                out.added.append(table.add(name, color, index=index))
            except ValueError:  # unreachable for a used index (free by definition) unless the name clashes
                continue
        elif other is not None and other.name != mine.name and other.name not in table.previous_names(index):
            out.disagreements.append((index, other.name, mine.name))
    return out


# ---- which images use a class ----------------------------------------------------------------------
def sidecar_class_uses(path: Path) -> list[int]:
    """The class index of each object (and of the unfinished one) in a sidecar; ClassListError if unreadable."""
    data = read_small_file(path, MAX_SIDECAR_BYTES, "an annotation sidecar")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ClassListError(f"{path}: not valid JSON.") from None
    if not isinstance(doc, dict):
        return []
    objs = doc.get("objects") if isinstance(doc.get("objects"), list) else []
    rows = [o for o in objs if isinstance(o, dict)]
    if isinstance(doc.get("current"), dict):
        rows.append(doc["current"])
    return [o["class"] for o in rows if isinstance(o.get("class"), int) and not isinstance(o.get("class"), bool)]


def _png_class_uses(class_png: Path, object_png: Path) -> list[int]:
    """The class of each object of an image annotated only with VOC PNGs (another tool's masks)."""
    try:
        cls = read_index_png(class_png) if class_png.is_file() else None
        inst = read_index_png(object_png) if object_png.is_file() else None
    except (ImageReadError, OSError):
        return []
    if inst is not None:
        if cls is not None and cls.shape != inst.shape:
            return []
        return [c for _, _, c in voc_instances(inst, cls, VOID)]
    if cls is None:
        return []
    return [int(k) for k in set(cls.ravel().tolist()) if k not in (0, VOID)]


def class_usage(out_dir: Path, images: Sequence[Path], index: int,
                skip: Path | None = None) -> dict[str, int]:
    """Image name -> how many objects of class `index` its saved annotation holds (sidecar, else PNGs),
    for every image but `skip` (the one open, counted from memory by the caller); unreadable ones skipped."""
    out: dict[str, int] = {}
    for image in images:
        if skip is not None and image == skip:
            continue
        p = paths_for(out_dir, image)
        if p.too_long():
            continue
        try:
            if p.sidecar.is_file():
                uses = sidecar_class_uses(p.sidecar)
            elif p.object_png.is_file() or p.class_png.is_file():
                uses = _png_class_uses(p.class_png, p.object_png)
            else:
                continue
        except (ClassListError, OSError):
            continue
        n = sum(1 for c in uses if c == index)
        if n:
            out[image.name] = n
    return out
