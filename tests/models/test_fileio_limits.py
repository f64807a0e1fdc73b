"""Image pixel limit (checked on the declared size, before decoding) and deep-grey conversion."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from models import fileio
from models.errors import ImageReadError
from models.fileio import MAX_PIXELS, read_image, read_index_png
from tests.reliability.hostile import image_bombs, png_flat


def test_limit_is_what_the_annotator_can_hold():
    """About 38 bytes a pixel at the annotator's peak: the limit keeps one image near 3 GB."""
    assert 50_000_000 <= MAX_PIXELS <= 100_000_000


BOMB_PIXELS = 100_000_000  # over the limit; the old 300 Mpx limit let these decode (0.3 - 1.6 GB)


@pytest.mark.parametrize("name", sorted(image_bombs(BOMB_PIXELS)))
def test_valid_png_over_the_limit_is_refused_before_decoding(tmp_path, name, monkeypatch):
    path = tmp_path / name
    path.write_bytes(image_bombs(BOMB_PIXELS)[name])
    assert path.stat().st_size < 400_000  # a few hundred KB that would decode to hundreds of MB
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded an image over the limit"))
    reader = read_index_png if "palette" in name else read_image
    t = time.perf_counter()
    with pytest.raises(ImageReadError) as e:
        reader(path)
    assert time.perf_counter() - t < 2.0
    assert str(path) in str(e.value) and "exceeds the limit" in str(e.value)


def test_flat_png_generator_decodes_to_its_declared_size():
    im = Image.open(io.BytesIO(png_flat(301, 203, bit_depth=16, color_type=0, value=1000)))
    im.load()
    arr = np.asarray(im)
    assert arr.shape == (203, 301) and arr.min() == arr.max() == 1000


def test_sixteen_bit_grey_scaled_to_its_maximum(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_ROWS_PER_CHUNK", 7)  # several chunks in a small image
    grey = (np.arange(40 * 30, dtype=np.uint16).reshape(40, 30) * 50)
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    rgb = read_image(path)
    want = (grey.astype(np.float64) * (255.0 / grey.max())).astype(np.uint8)
    assert rgb.shape == (40, 30, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb[:, :, 0].astype(int) - want).max() <= 1
    assert np.array_equal(rgb[:, :, 0], rgb[:, :, 2]) and rgb.max() == 255


def test_all_zero_and_float_grey(tmp_path):
    Image.fromarray(np.zeros((9, 8), np.uint16)).save(tmp_path / "zero.png")
    assert read_image(tmp_path / "zero.png").max() == 0
    f = np.linspace(-1, 2, 72, dtype=np.float32).reshape(9, 8)
    f[0, 0] = np.nan
    Image.fromarray(f, mode="F").save(tmp_path / "float.tiff")
    rgb = read_image(tmp_path / "float.tiff")
    assert rgb.shape == (9, 8, 3) and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
