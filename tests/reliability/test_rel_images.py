"""Image bombs and broken images through the readers in a child: refused before decoding, with a
message naming the file, bounded memory and time; a large 16-bit image read at a few bytes a pixel."""
import numpy as np

from models.fileio import MAX_PIXELS
from tests.reliability.hostile import broken_images, encode, hostile_masks, png_flat, probe, write

#: Peak resident memory one refusal may add, and its time (generous for a loaded 2-core CI machine).
MEMORY_LIMIT_MB = 100
TIME_LIMIT_S = 30
#: What reading a legitimate large 16-bit grey image may cost per pixel (decoded 2 + array 2 + RGB 3;
#: the old float64 path took ~24).
BYTES_PER_PIXEL = 10


def test_bombs_and_broken_images_refused_in_bounded_memory(tmp_path, figures):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    images = write(tmp_path / "images", broken_images(rgb))
    masks = write(tmp_path / "masks", {k: v for k, v in hostile_masks((40, 56)).items()
                                       if "bomb" in k or "truncated" in k or "zero" in k})
    big = 20_000_000  # 5000 x 4000, a quarter of the limit
    assert big < MAX_PIXELS
    ok = write(tmp_path / "ok", {"deep16.png": png_flat(5000, 4000, bit_depth=16, color_type=0, value=1000),
                                 "small.png": encode(rgb, "PNG")})
    jobs = [("image", p) for p in ok] + [("image", p) for p in images] + [("mask", p) for p in masks]
    reports, child = probe(jobs, timeout=300)
    assert not child.killed and child.rc == 0 and len(reports) == len(jobs), (child.killed, child.err[-2000:])
    problems = []
    for r in reports:
        name = r["file"].rsplit("/", 1)[-1]
        if r["file"].startswith(str(tmp_path / "ok")):
            limit = BYTES_PER_PIXEL * big / 2 ** 20
            if r["outcome"] != "read" or r["peak_mb"] > limit:
                problems.append(f"{name}: {r['outcome']} {r['peak_mb']} MB (limit {limit:.0f}) {r['message'][-300:]}")
            continue
        if r["outcome"] != "refused" or not r["message"].startswith(r["file"]) or "Traceback" in r["message"]:
            problems.append(f"{r['reader']} {name}: {r['outcome']} {r['message'][-300:]}")
        if r["peak_mb"] > MEMORY_LIMIT_MB or r["seconds"] > TIME_LIMIT_S:
            problems.append(f"{r['reader']} {name}: {r['peak_mb']} MB, {r['seconds']} s")
        if "bomb" in name and "exceeds the limit" not in r["message"]:
            problems.append(f"{name}: {r['message']}")
    assert problems == []
    figures["hostile_files"] += len(images) + len(masks)
