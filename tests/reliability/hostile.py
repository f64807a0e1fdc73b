"""Builders of hostile and broken files, and the fuzzing mutators, shared by the reliability tests."""
from __future__ import annotations

import io
import json
import random
import signal
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000, color_type: int = 2) -> bytes:
    """A tiny PNG that declares a huge size (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
            + png_chunk(b"IEND", b""))


def png_flat(width: int, height: int, bit_depth: int = 8, color_type: int = 2, value: int = 0) -> bytes:
    """A valid PNG of one flat colour that really decodes to width x height (a bomb when large).

    Built in milliseconds whatever the size: the image data is one ~1 MiB run of rows deflated once with
    a full flush (so the block stands alone) and repeated; the Adler-32 is summed over the same runs.
    """
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    sample = value.to_bytes(bit_depth // 8, "big") if bit_depth >= 8 else bytes([value])
    row = b"\0" + sample * (channels * width * max(bit_depth, 8) // 8 // len(sample))
    per_block = max(1, (1 << 20) // len(row))
    blocks, rest = divmod(height, per_block)
    raw_block = row * per_block
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(raw_block) + co.flush(zlib.Z_FULL_FLUSH)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = co.compress(row * rest) + co.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(blocks):
        adler = zlib.adler32(raw_block, adler)
    adler = zlib.adler32(row * rest, adler)
    stream = b"\x78\xda" + block * blocks + tail + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", stream)
            + png_chunk(b"IEND", b""))


def image_bombs(max_pixels: int) -> dict[str, bytes]:
    """Valid, fully decodable PNGs just over `max_pixels` (the readers must refuse them before decoding)."""
    side = int(max_pixels ** 0.5) + 2
    return {
        "flat_bomb_rgb.png": png_flat(side, side),
        "flat_bomb_grey16.png": png_flat(side, side, bit_depth=16, color_type=0, value=1000),
        "flat_bomb_palette.png": png_flat(side, side, bit_depth=8, color_type=3),
    }


def encode(arr: np.ndarray, fmt: str, **kw: Any) -> bytes:
    """Encode an array with PIL."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def broken_images(rgb: np.ndarray) -> dict[str, bytes]:
    """Image files the readers must refuse: name → bytes."""
    png, jpg = encode(rgb, "PNG"), encode(rgb, "JPEG", quality=90)
    return {
        "truncated.jpg": jpg[: len(jpg) // 2],
        "truncated.png": png[: len(png) // 2],
        "header_only.jpg": jpg[:20],
        "zero.jpg": b"",
        "zero.png": b"",
        "bomb.png": png_bomb(),
        "bomb_grey.png": png_bomb(70_000, 70_000, color_type=0),
        "text.jpg": b"this is not an image\n" * 10,
        "html.png": b"<html><body>404 Not Found</body></html>",
    }


def hostile_masks(shape: tuple[int, int]) -> dict[str, bytes]:
    """Files found where a palette index PNG is expected: name → bytes (all must be refused)."""
    h, w = shape
    return {
        "rgb.png": encode(np.zeros((h, w, 3), np.uint8), "PNG"),
        "rgba.png": encode(np.zeros((h, w, 4), np.uint8), "PNG"),
        "deep16.png": encode(np.full((h, w), 300, np.uint16), "PNG"),
        "bilevel.png": _bilevel(h, w),
        "wrong_size.png": encode(np.zeros((h + 1, w), np.uint8), "PNG"),
        "bomb.png": png_bomb(90_000, 90_000, color_type=3),
        "truncated.png": encode(np.zeros((h, w), np.uint8), "PNG")[:40],
        "zero.png": b"",
        "jpeg_named.png": encode(np.zeros((h, w, 3), np.uint8), "JPEG"),
    }


def _bilevel(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (w, h)).save(buf, format="PNG")
    return buf.getvalue()


def hostile_sidecars(shape: tuple[int, int], name: str) -> dict[str, str | bytes]:
    """Sidecar documents that must be refused with AnnotationFileError: name → text or bytes."""
    h, w = shape
    base = {"format": "ifcn-annotation", "version": 1, "image": name, "size": [w, h], "classes": [],
            "objects": [], "current": None}
    one = lambda **o: {**base, "objects": [{"instance": 1, "class": 1, "clicks": [], "strokes": [],  # noqa: E731
                                            "mask": {"rle": [h * w]}, **o}]}
    docs: dict[str, Any] = {
        "truncated.json": json.dumps(base)[:30],
        "empty.json": "",
        "not_utf8.json": b"\xff\xfe\x00garbage\x80",
        "list.json": "[]",
        "labelme.json": json.dumps({"version": "5.0", "shapes": [], "imagePath": name, "imageHeight": h,
                                    "imageWidth": w}),
        "coco.json": json.dumps({"images": [], "annotations": [], "categories": []}),
        "future_version.json": json.dumps({**base, "version": 99}),
        "wrong_size.json": json.dumps({**base, "size": [w + 1, h]}),
        "deep_nesting.json": "[" * 50_000 + "]" * 50_000,
        "huge_run.json": json.dumps(one(mask={"rle": [2 ** 70, h * w]})),
        "short_runs.json": json.dumps(one(mask={"rle": [1, 2]})),
        "nan_click.json": json.dumps(one(clicks=[[float("nan"), 1, True]])),
        "outside_click.json": json.dumps(one(clicks=[[w + 5, 1, True]])),
        "bool_class.json": json.dumps(one(**{"class": True})),
        "void_class.json": json.dumps(one(**{"class": 255})),
        "infinite_colour.json": json.dumps({**base, "classes": [{"index": 1, "name": "a",
                                                                 "color": [float("inf"), 0, 0]}]}),
        "colour_out_of_range.json": json.dumps({**base, "classes": [{"index": 1, "name": "a",
                                                                     "color": [1000, -3, 0]}]}),
        "absurd_stroke.json": json.dumps({**base, "current": {"class": 1, "clicks": [], "strokes": [
            {"points": [[1e300, 1e300]], "radius": 1e300, "erase": False}]}}),
        "too_many_objects.json": json.dumps({**base, "objects": [
            {"instance": i, "class": 1, "mask": {"rle": [h * w]}} for i in range(1, 300)]}),
    }
    return docs


# ---- fuzzing ------------------------------------------------------------------------------------
HOSTILE_VALUES: list[Any] = [None, True, False, -1, 0, 1, 254, 255, 256, 2 ** 70, -(2 ** 70), 1e308,
                             float("inf"), float("-inf"), float("nan"), -0.5, "", "x" * 300, [], {}, [[[]]],
                             [0, 0, 0], {"rle": []}, [1e300, 1e300, True]]


def mutate_bytes(data: bytes, rng: random.Random, focus: int | None = None) -> bytes:
    """A random corruption: byte flips, a truncation, a zeroed or duplicated span, or inserted junk.

    `focus`: pick positions only in the first and last `focus` bytes (a file's headers and index).
    """
    b = bytearray(data)
    n = len(b)

    def pos() -> int:
        if focus and n > 2 * focus:
            return rng.randrange(focus) if rng.random() < 0.5 else n - 1 - rng.randrange(focus)
        return rng.randrange(max(1, n))
    kind = rng.choice(("flip", "flip", "truncate", "zero", "dup", "insert"))
    if kind == "flip" or n < 4:
        for _ in range(rng.randint(1, 8)):
            if b:
                b[pos() % len(b)] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        b = b[: pos()]
    elif kind == "zero":
        i = pos()
        b[i: i + rng.randint(1, 64)] = bytes(len(b[i: i + rng.randint(1, 64)]))
    elif kind == "dup":
        i = pos()
        b[i:i] = b[i: i + rng.randint(1, 256)]
    else:
        i = pos()
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(b)


def mutate_json(doc: Any, rng: random.Random) -> Any:
    """Replace one random node of a JSON document by a hostile value (or drop a dict key)."""
    paths: list[tuple] = []

    def walk(node: Any, path: tuple) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node[:6]):
                walk(v, path + (i,))
    walk(doc, ())
    doc = json.loads(json.dumps(doc))
    path = rng.choice(paths[1:] or paths)
    if not path:
        return rng.choice(HOSTILE_VALUES)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(HOSTILE_VALUES)
    return doc


class Hang(Exception):
    """A reader took longer than its deadline."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread when the block runs longer than `seconds`."""
    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def write(folder: Path, files: dict[str, str | bytes]) -> list[Path]:
    """Write name → content into `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, content in files.items():
        p = folder / name
        p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        out.append(p)
    return out
