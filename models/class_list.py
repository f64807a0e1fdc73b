"""The project's class list: one per output folder, `OUT/classes.json`, plus labelme's `labels.txt` reader.

A class has an *index* (its value in SegmentationClass PNGs, 1..254; 0 is background, 255 VOC's void) that
never changes once given, a unique name and an RGB colour. The list has a display *order* (what the number
keys 1-9 pick), independent of the indices: reordering never renumbers a class. A renamed class remembers
its previous names, so annotations saved before the rename are not reported as disagreeing.

`classes.json` (format "ifcn-classes", version 1)::

    {"format": "ifcn-classes", "version": 1,
     "classes": [{"index": 21, "name": "cup", "color": [128, 0, 0], "previous_names": ["mug"]}, ...]}

in display order. It is written atomically and read only when it is a regular file of at most
MAX_CLASS_FILE_BYTES; every field is checked (ClassListError naming the file and the entry).

`labels.txt` (labelme's convention): one class name a line, in index order; `__ignore__` (VOC's void,
255) and `_background_` (index 0) lines are recognised and are no classes. Qt-free: read by the annotator
and by `ifcn convert`.
"""
from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from models.errors import ClassListError
from models.fileio import FileRefused, atomic_write_text, read_regular_file, voc_colormap

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
#: Index values usable for classes (0 = background, 255 = VOC "void").
MAX_INDEX = 254
CLASS_FILE = "classes.json"
FORMAT, VERSION = "ifcn-classes", 1
#: labelme's names of the void and background lines of labels.txt.
IGNORE_LABEL, BACKGROUND_LABEL = "__ignore__", "_background_"
#: Largest class file read (bytes): 254 classes with long names and histories fit many times over.
MAX_CLASS_FILE_BYTES = 1 << 20
MAX_NAME_CHARS = 100
MAX_PREVIOUS_NAMES = 16


@dataclass(frozen=True)
class ClassDef:
    """One label class: its index in SegmentationClass PNGs, a name and an RGB colour."""

    index: int
    name: str
    color: tuple[int, int, int]


def check_name(name: Any) -> str:
    """The stripped class name, or ValueError saying why it cannot name a class."""
    if not isinstance(name, str):
        raise ValueError(f"a class name must be text, got {type(name).__name__}")
    name = name.strip()
    if not name:
        raise ValueError("a class name cannot be empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a class name has at most {MAX_NAME_CHARS} characters ('{name[:30]}…' has {len(name)})")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValueError(f"a class name cannot hold control characters ({name[:40]!r})")
    if name in (IGNORE_LABEL, BACKGROUND_LABEL):
        raise ValueError(f"'{name}' is labelme's name for {'void' if name == IGNORE_LABEL else 'background'}, "
                         "not a class")
    return name


def _check_color(color: Any) -> tuple[int, int, int]:
    if (not isinstance(color, (list, tuple)) or len(color) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in color)):
        raise ValueError(f"a colour is [r, g, b] with whole numbers 0..255, got {str(color)[:60]}")
    return (int(color[0]), int(color[1]), int(color[2]))


def _check_index(index: Any) -> int:
    if not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= MAX_INDEX:
        raise ValueError(f"class index must be a whole number in 1..{MAX_INDEX}, got {str(index)[:30]}")
    return index


def voc_color(index: int) -> tuple[int, int, int]:
    """The VOC palette colour of `index`."""
    return tuple(int(v) for v in voc_colormap()[index % 256])  # type: ignore[return-value]


class ClassTable:
    """The editable, ordered list of label classes (the 20 VOC classes by default; `ClassTable(())` is empty)."""

    def __init__(self, classes: Iterable[ClassDef] | None = None) -> None:
        self._classes: dict[int, ClassDef] = {}
        self._order: list[int] = []
        self._previous: dict[int, tuple[str, ...]] = {}
        if classes is None:
            classes = [ClassDef(i + 1, n, voc_color(i + 1)) for i, n in enumerate(VOC_CLASSES)]
        for c in classes:
            self._put(c)

    @classmethod
    def voc(cls) -> "ClassTable":
        """The 20 PASCAL VOC classes at their VOC indices and colours."""
        return cls()

    # ---- reading ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ClassDef]:
        return iter(self.classes())

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, index: object) -> bool:
        return index in self._classes

    def classes(self) -> list[ClassDef]:
        """All classes in display order."""
        return [self._classes[i] for i in self._order]

    def get(self, index: int) -> ClassDef:
        """The class with this index; an unknown index gets a placeholder name and its VOC colour."""
        if index in self._classes:
            return self._classes[index]
        return ClassDef(index, f"class {index}", voc_color(index))

    def find(self, name: str) -> ClassDef | None:
        """The class called `name` (after stripping), None if there is none."""
        name = name.strip()
        return next((c for c in self._classes.values() if c.name == name), None)

    def previous_names(self, index: int) -> tuple[str, ...]:
        """Names the class `index` had before it was renamed (oldest first)."""
        return self._previous.get(index, ())

    def nth(self, n: int) -> ClassDef | None:
        """The n-th class in display order (0-based), for the number keys 1..9."""
        return self._classes[self._order[n]] if 0 <= n < len(self._order) else None

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 palette: VOC colours with each class's own colour at its index."""
        pal = voc_colormap().copy()
        for c in self._classes.values():
            pal[c.index] = c.color
        return pal

    def free_index(self, preferred: int | None = None) -> int:
        """`preferred` when it is a free index, else the lowest free one (ValueError when all 254 are used)."""
        if preferred is not None and 1 <= preferred <= MAX_INDEX and preferred not in self._classes:
            return preferred
        free = next((i for i in range(1, MAX_INDEX + 1) if i not in self._classes), None)
        if free is None:
            raise ValueError(f"no free class index left (at most {MAX_INDEX} classes)")
        return free

    # ---- editing ---------------------------------------------------------------------------
    def _put(self, c: ClassDef, previous: Sequence[str] = ()) -> None:
        index = _check_index(c.index)
        name = check_name(c.name)
        other = self.find(name)
        if other is not None and other.index != index:
            raise ValueError(f"there already is a class '{name}' (index {other.index})")
        color = tuple(int(max(0, min(255, int(v)))) for v in tuple(c.color)[:3])
        if len(color) != 3:
            raise ValueError(f"a colour is [r, g, b], got {c.color!r}")
        if index not in self._classes:
            self._order.append(index)
        self._classes[index] = ClassDef(index, name, color)  # type: ignore[arg-type]
        if previous:
            self._previous[index] = tuple(dict.fromkeys(previous))[-MAX_PREVIOUS_NAMES:]

    def add(self, name: str, color: Sequence[int] | None = None, index: int | None = None) -> ClassDef:
        """Add a class at `index` if free, else at the first free index (VOC colour of that index unless given)."""
        name = check_name(name)
        if self.find(name) is not None:
            raise ValueError(f"there already is a class '{name}' (index {self.find(name).index})")
        i = self.free_index(index)
        self._put(ClassDef(i, name, tuple(color) if color is not None else voc_color(i)))  # type: ignore[arg-type]
        return self._classes[i]

    def rename(self, index: int, name: str) -> None:
        """Rename the class `index` (its old name is remembered)."""
        old = self._require(index)
        new = check_name(name)
        if new == old.name:
            return
        self._put(replace(old, name=new),
                  previous=[n for n in (*self.previous_names(index), old.name) if n != new])

    def recolor(self, index: int, color: Sequence[int]) -> None:
        """Give the class `index` a new RGB colour."""
        self._put(replace(self._require(index), color=tuple(color)))  # type: ignore[arg-type]

    def delete(self, index: int) -> ClassDef:
        """Remove the class `index` from the list (its objects are the caller's business)."""
        c = self._require(index)
        del self._classes[index]
        self._order.remove(index)
        self._previous.pop(index, None)
        return c

    def move(self, index: int, delta: int) -> bool:
        """Move the class `index` `delta` rows in the display order; False when it cannot move."""
        self._require(index)
        i = self._order.index(index)
        j = max(0, min(len(self._order) - 1, i + delta))
        if i == j:
            return False
        self._order.insert(j, self._order.pop(i))
        return True

    def set_order(self, indices: Sequence[int]) -> None:
        """Display the classes in this order (every index of the table exactly once)."""
        if sorted(indices) != sorted(self._order):
            raise ValueError("the new order must list every class exactly once")
        self._order = list(indices)

    def merge(self, classes: Iterable[ClassDef]) -> None:
        """Take names/colours of `classes`, adding unknown indices (tests and imports; the annotator never
        lets a sidecar rename a class: see annotator.class_list.reconcile)."""
        for c in classes:
            self._put(c)

    def replace_with(self, other: "ClassTable") -> None:
        """Make this table a copy of `other` (in place: every holder of this table sees the change)."""
        self._classes = dict(other._classes)
        self._order = list(other._order)
        self._previous = dict(other._previous)

    def same_as(self, other: "ClassTable") -> bool:
        """True when both tables hold the same classes in the same order."""
        return self.classes() == other.classes()

    def _require(self, index: int) -> ClassDef:
        if index not in self._classes:
            raise KeyError(f"no class with index {index}")
        return self._classes[index]

    # ---- classes.json ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The classes.json document of this table."""
        rows = []
        for c in self.classes():
            row: dict[str, Any] = {"index": c.index, "name": c.name, "color": list(c.color)}
            if self.previous_names(c.index):
                row["previous_names"] = list(self.previous_names(c.index))
            rows.append(row)
        return {"format": FORMAT, "version": VERSION, "classes": rows}

    @classmethod
    def from_json(cls, doc: Any, where: str = "the class list") -> "ClassTable":
        """The table of a classes.json document (ClassListError naming `where` and the bad entry)."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ClassListError(f"{where}: not an {FORMAT} class list (another schema).")
        if doc.get("version") != VERSION:
            raise ClassListError(f"{where}: class list version {str(doc.get('version'))[:20]!r} is not supported "
                                 f"(this program reads version {VERSION}).")
        rows = doc.get("classes")
        if not isinstance(rows, list):
            raise ClassListError(f"{where}: 'classes' must be a list.")
        if len(rows) > MAX_INDEX:
            raise ClassListError(f"{where}: {len(rows)} classes, more than the {MAX_INDEX} a class PNG can hold.")
        table = cls(())
        for k, row in enumerate(rows, start=1):
            try:
                if not isinstance(row, dict):
                    raise ValueError("an entry must be {\"index\", \"name\", \"color\"}")
                index = _check_index(row.get("index"))
                if index in table:
                    raise ValueError(f"index {index} is listed twice")
                previous = row.get("previous_names", [])
                if not isinstance(previous, list) or len(previous) > MAX_PREVIOUS_NAMES:
                    raise ValueError(f"'previous_names' must be a list of at most {MAX_PREVIOUS_NAMES} names")
                table._put(ClassDef(index, check_name(row.get("name")), _check_color(row.get("color"))),
                           previous=[check_name(n) for n in previous])
            except ValueError as e:
                raise ClassListError(f"{where}: class entry {k}: {e}.") from None
        return table


# ---- files ---------------------------------------------------------------------------------------
def folder_class_file(out_dir: str | os.PathLike) -> Path:
    """Where the class list of the output folder `out_dir` lives."""
    return Path(out_dir) / CLASS_FILE


def read_small_file(path: str | os.PathLike, limit: int = MAX_CLASS_FILE_BYTES, what: str = "a class list",
                    head: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (ClassListError naming it otherwise); with
    `head`, its first `limit` bytes whatever its size (`models.fileio.read_regular_file`)."""
    try:
        return read_regular_file(path, limit, head=head)
    except FileRefused as e:
        if e.kind == "type":
            raise ClassListError(f"{path}: is not a regular file (a folder, pipe, device or socket).") from None
        if e.kind == "size":
            raise ClassListError(f"{path}: over {limit // 1024} KB, too large for {what}.") from None
        raise ClassListError(f"{path}: cannot be read ({e.detail}).") from None


def read_class_file(path: str | os.PathLike) -> ClassTable:
    """The table of a classes.json file (ClassListError naming the file when it is not a valid one)."""
    data = read_small_file(path)
    try:
        doc = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ClassListError(f"{path}: not a class list (JSON nested too deeply).") from None
    except ValueError as e:
        raise ClassListError(f"{path}: not valid JSON ({str(e)[:200]}).") from None
    return ClassTable.from_json(doc, str(path))


def write_class_file(path: str | os.PathLike, table: ClassTable) -> None:
    """Write `table` to `path` atomically (OSError on disk trouble)."""
    atomic_write_text(path, json.dumps(table.to_json(), ensure_ascii=False, indent=1) + "\n")


def read_folder_classes(out_dir: str | os.PathLike) -> ClassTable | None:
    """The class list of the output folder `out_dir`, None when it has none (ClassListError when broken)."""
    path = folder_class_file(out_dir)
    if not os.path.lexists(path):
        return None
    return read_class_file(path)


@dataclass(frozen=True)
class LabelsFile:
    """What a labelme labels.txt says: class names in index order, and whether it lists void / background."""

    names: tuple[str, ...]
    has_ignore: bool = False
    has_background: bool = False


def parse_labels(text: str, where: str = "labels.txt") -> LabelsFile:
    """Parse labelme's labels.txt (one name a line; blank lines skipped; `__ignore__`, `_background_`
    recognised). ClassListError naming the line for a bad or repeated name, or too many classes."""
    names: list[str] = []
    seen: dict[str, int] = {}
    ignore = background = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s == IGNORE_LABEL:
            ignore = True
            continue
        if s == BACKGROUND_LABEL:
            background = True
            continue
        try:
            s = check_name(s)
        except ValueError as e:
            raise ClassListError(f"{where}, line {lineno}: {e}.") from None
        if s in seen:
            raise ClassListError(f"{where}, line {lineno}: '{s}' is listed twice (first on line {seen[s]}).")
        seen[s] = lineno
        names.append(s)
        if len(names) > MAX_INDEX:
            raise ClassListError(f"{where}: more than {MAX_INDEX} classes (a class PNG holds {MAX_INDEX}).")
    return LabelsFile(tuple(names), ignore, background)


def read_labels_file(path: str | os.PathLike) -> LabelsFile:
    """Parse the labels.txt at `path` (see parse_labels)."""
    data = read_small_file(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ClassListError(f"{path}: not UTF-8 text; a class list is one class name a line.") from None
    return parse_labels(text, str(path))


def read_any_list(path: str | os.PathLike) -> ClassTable | LabelsFile:
    """A class list file of either kind: classes.json (a ClassTable) or labels.txt (a LabelsFile)."""
    data = read_small_file(path)
    if Path(path).suffix.lower() == ".json" or data.lstrip()[:1] == b"{":
        return read_class_file(path)
    return read_labels_file(path)


@dataclass
class MergeReport:
    """What adding a class list to a table did."""

    added: list[ClassDef]
    kept: list[ClassDef]            # already there under that name
    moved: list[tuple[str, int, int]]  # (name, index it asked for, index it got)


def merge_list(table: ClassTable, source: ClassTable | LabelsFile) -> MergeReport:
    """Add the classes of `source` that `table` lacks (by name), each at the index the source gives it
    when that is free (labels.txt: its line order, labelme's convention), else at the lowest free one.
    Existing classes keep their index, colour and place; the added ones follow, in the source's order."""
    if isinstance(source, LabelsFile):
        wanted = [(n, k, None) for k, n in enumerate(source.names, start=1)]
    else:
        wanted = [(c.name, c.index, c.color) for c in source]
    report = MergeReport([], [], [])
    got: dict[str, int] = {}
    for name, index, color in wanted:  # first those whose index is free, so none takes another's
        have = table.find(name)
        if have is not None:
            report.kept.append(have)
            got[name] = have.index
        elif index not in table:
            got[name] = table.add(name, color, index=index).index
            report.added.append(table.get(got[name]))
    for name, index, color in wanted:
        if name not in got:
            got[name] = table.add(name, color).index
            report.added.append(table.get(got[name]))
            report.moved.append((name, index, got[name]))
    return report
