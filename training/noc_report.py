"""Outputs of a NoC run (`training.noc`): summary.json, the per-object CSV, the mIoU plot and the table."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from models.fileio import atomic_write_text
from training.plot import save_line_plot

if TYPE_CHECKING:
    from training.noc import NocResult


def target_key(target: float) -> str:
    """'noc@85' style key of a target IoU (0.85 -> '85')."""
    return f"{round(target * 100):d}"


def per_object_csv(result: NocResult) -> str:
    """The per-object CSV: one row per object with its NoC values and IoU after each click."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = [target_key(t) for t in result.targets]
    w.writerow(["image", "object", "area", *[f"noc@{k}" for k in keys], *[f"failed@{k}" for k in keys],
                "clicks", "final_iou", *[f"iou_{i + 1}" for i in range(result.max_clicks)]])
    for o in result.objects:
        ious = [f"{v:.5f}" for v in o.ious] + [""] * (result.max_clicks - len(o.ious))
        w.writerow([o.image_id, o.object_id, o.area, *[o.noc[t] for t in result.targets],
                    *[int(o.failed[t]) for t in result.targets], len(o.ious),
                    f"{o.ious[-1]:.5f}" if o.ious else "", *ious])
    return buf.getvalue()


def write_outputs(out_dir: str | Path, result: NocResult,
                  compare: Sequence[NocResult] = ()) -> dict[str, Path]:
    """Write summary.json, per_object.csv and miou_vs_clicks.png (with `compare` curves added)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out / "summary.json", "csv": out / "per_object.csv",
             "plot": out / "miou_vs_clicks.png"}
    atomic_write_text(paths["summary"], json.dumps(result.summary(), indent=2) + "\n")
    atomic_write_text(paths["csv"], per_object_csv(result))
    series: dict[str, list[float]] = {}
    for r in (result, *compare):
        label, n = r.label, 2
        while label in series:
            label, n = f"{r.label} ({n})", n + 1
        series[label] = r.miou_per_click()
    save_line_plot(paths["plot"], series, title="mIoU vs number of clicks",
                   xlabel="number of clicks", ylabel="mIoU", hlines=result.targets)
    return paths


def format_table(results: Iterable[NocResult]) -> str:
    """A fixed-width summary table (one row per run)."""
    results = list(results)
    if not results:
        return ""
    targets = results[0].targets
    head = ["model", "objects", *[f"NoC@{target_key(t)}" for t in targets],
            *[f"failed@{target_key(t)}" for t in targets],
            "mIoU@1", "mIoU@5", "s", "clicks/s"]
    rows = []
    for r in results:
        m = r.miou_per_click()
        pick = lambda k: f"{m[k - 1]:.3f}" if len(m) >= k else "-"  # noqa: E731
        rows.append([r.label, str(len(r.objects)),
                     *[f"{r.noc(t):.2f}" if r.objects else "-" for t in targets],
                     *[str(r.failed(t)) for t in targets], pick(1), pick(5), f"{r.seconds:.1f}",
                     f"{r.predictions / r.seconds:.1f}" if r.seconds > 0 else "-"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)
