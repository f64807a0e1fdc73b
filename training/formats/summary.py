"""What an `ifcn convert` run read and wrote: counts, skipped images with reasons, and its summary lines."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
