import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from models.errors import ImageReadError
from models.fileio import (atomic_write_bytes, encode_index_png, image_shape, read_image, read_index_png,
                           voc_colormap, write_index_png)


def test_voc_colormap_known_colours():
    cm = voc_colormap()
    assert tuple(cm[0]) == (0, 0, 0)
    assert tuple(cm[1]) == (128, 0, 0)
    assert tuple(cm[2]) == (0, 128, 0)
    assert tuple(cm[15]) == (192, 128, 128)
    assert tuple(cm[255]) == (224, 224, 192)


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 20), st.integers(1, 20))))
def test_palette_png_round_trip(tmp_path_factory, arr):
    path = tmp_path_factory.mktemp("p") / "m.png"
    write_index_png(path, arr)
    with Image.open(path) as im:
        assert im.mode == "P"
        assert tuple(im.getpalette()[3:6]) == (128, 0, 0)
    np.testing.assert_array_equal(read_index_png(path), arr)


def test_refuses_rgb_and_16bit_masks(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(ImageReadError, match="rgb.png.*'RGB'"):
        read_index_png(tmp_path / "rgb.png")
    with pytest.raises(ImageReadError, match="deep.png"):
        read_index_png(tmp_path / "deep.png")


def test_broken_images_name_the_file(tmp_path):
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    assert read_image(tmp_path / "ok.jpg").shape == (64, 64, 3)
    for name in ("trunc.jpg", "zero.png", "junk.png", "absent.png"):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def test_png_bomb_is_refused_before_decoding(tmp_path):
    import struct
    import zlib
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageReadError, match="bomb.png.*exceeds"):
        read_image(tmp_path / "bomb.png")


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_bytes(tmp_path / "sub" / "a.bin", b"123")
    atomic_write_bytes(tmp_path / "sub" / "a.bin", b"456")
    assert (tmp_path / "sub" / "a.bin").read_bytes() == b"456"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.bin"]
    assert encode_index_png(np.zeros((2, 2), np.uint8))[:8] == b"\x89PNG\r\n\x1a\n"


def test_stale_temp_files_of_interrupted_writes_are_cleaned(tmp_path):
    import os
    import time
    stale = tmp_path / ".a.bin.x1y2.tmp"
    fresh = tmp_path / ".a.bin.z3.tmp"   # maybe another writer, right now: left alone
    other = tmp_path / ".b.bin.q.tmp"    # another file's temp: not ours to judge
    for p in (stale, fresh, other):
        p.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_bytes(tmp_path / "a.bin", b"whole")
    assert not stale.exists() and fresh.exists() and other.exists()


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_image_shape_is_read_images_shape_from_the_header(tmp_path, orientation):
    path = tmp_path / "x.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.zeros((30, 50, 3), np.uint8)).save(path, exif=exif.tobytes())
    assert image_shape(path) == read_image(path).shape[:2] == ((50, 30) if orientation in (6, 8) else (30, 50))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not an image")
    with pytest.raises(ImageReadError, match="not a readable image"):
        image_shape(tmp_path / "bad.jpg")
