"""Builders of hostile image and mask files (PNG bombs, truncated and foreign files) for the reliability tests."""
from __future__ import annotations

import io
import struct
import zlib
from typing import Any

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
        **{k: v for k, v in image_bombs(_max_pixels()).items() if "palette" not in k},
        "text.jpg": b"this is not an image\n" * 10,
        "html.png": b"<html><body>404 Not Found</body></html>",
    }


def _max_pixels() -> int:
    from models.fileio import MAX_PIXELS

    return MAX_PIXELS


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
        "flat_bomb_palette.png": image_bombs(_max_pixels())["flat_bomb_palette.png"],
        "truncated.png": encode(np.zeros((h, w), np.uint8), "PNG")[:40],
        "zero.png": b"",
        "jpeg_named.png": encode(np.zeros((h, w, 3), np.uint8), "JPEG"),
    }


def _bilevel(h: int, w: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (w, h)).save(buf, format="PNG")
    return buf.getvalue()
