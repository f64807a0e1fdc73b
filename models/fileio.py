"""The project's on-disk primitives: atomic writes, safe image reads, VOC palette PNGs."""
from __future__ import annotations

import glob
import hashlib
import io
import itertools
import os
import stat
import time
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from models.errors import ImageReadError

#: Largest image (in pixels) we agree to decode, checked on the declared size before decoding. Set from
#: what the tool can hold: the annotator peaks at about 38 bytes a pixel (a 20 Mpx photo: 757 MB during
#: the first click), so 80 Mpx is about 3 GB, and read_image itself at about 13. Every 61 Mpx full-frame
#: and 50 Mpx medium-format photo still opens; an 873 KB PNG can no longer declare 170 Mpx and take 5 GB.
MAX_PIXELS = 80_000_000

#: Rows converted at a time from 16-bit / 32-bit grey to 8-bit (bounds the float temporaries).
_ROWS_PER_CHUNK = 256

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _mode_for(path: Path) -> int:
    """Permissions for a replaced file: the old file's, else what open() would give (not mkstemp's 0600)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


#: Longest file name (bytes) that common file systems accept (ext4, APFS, NTFS in UTF-16 units).
NAME_MAX = 255


def name_too_long(name: str) -> bool:
    """True when `name` (one path component) is longer than NAME_MAX bytes in UTF-8."""
    return len(os.fsencode(name)) > NAME_MAX


def short_name(name: str, budget: int) -> str:
    """`name` itself when it fits in `budget` bytes, else its start plus a hash of the whole (still unique)."""
    raw = os.fsencode(name)
    if len(raw) <= budget:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:12]
    head = raw[: max(0, budget - len(digest) - 1)].decode("utf-8", "ignore")  # drops a cut character
    return f"{head}~{digest}"


def _temp_prefix(path: Path) -> str:
    # mkstemp adds 8 random characters and ".tmp": 1 + 200 + 1 + 8 + 4 bytes stay under NAME_MAX.
    return f".{short_name(path.name, 200)}."


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically: temp file in the same folder, fsync, rename, fsync dir."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _mode_for(path))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    _remove_stale_temps(path)


#: A temp file of ours older than this was left by a writer that died (kill -9, power loss).
STALE_TEMP_SECONDS = 120.0


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files that earlier, interrupted writes of `path` left behind."""
    now = time.time()
    for tmp in path.parent.glob(f"{glob.escape(_temp_prefix(path))}*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
                tmp.unlink()
        except OSError:
            pass


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Atomic UTF-8 text write (see atomic_write_bytes)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def move_to_backup(path: str | os.PathLike, tag: str = "broken") -> Path:
    """Rename `path` to a new name `<name>.<tag>-<time>[-n]` beside it; never over an existing file.

    The backup name is reserved with O_EXCL before the rename, so two backups made within the same
    second (or by two processes) get two names. Long names are shortened (see short_name).
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = short_name(path.name, NAME_MAX - len(tag) - 32)
    is_dir = stat.S_ISDIR(path.lstat().st_mode)
    for n in itertools.count(1):
        dst = path.with_name(f"{base}.{tag}-{stamp}" + (f"-{n}" if n > 1 else ""))
        if is_dir:  # a directory cannot replace a placeholder file: check, then rename
            if os.path.lexists(dst):
                continue
            os.rename(path, dst)
            return dst
        try:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        try:
            os.replace(path, dst)
        except BaseException:
            try:
                os.unlink(dst)
            except OSError:
                pass
            raise
        return dst
    raise AssertionError("unreachable")


class FileRefused(Exception):
    """Why `read_regular_file` refused a file: `kind` is "open" or "read" (`detail` the OS's words), "type"
    (not a regular file) or "size" (over the limit; `size` the declared size, None when it grew while read)."""

    def __init__(self, kind: str, detail: str = "", size: int | None = None) -> None:
        super().__init__(kind, detail)
        self.kind, self.detail, self.size = kind, detail, size


def read_regular_file(path: str | os.PathLike, limit: int, head: bool = False) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes (FileRefused if not); with
    `head`, its first `limit` bytes whatever its size.

    Opened non-blocking and checked on the open descriptor, so a FIFO never blocks and a link to a device
    (/dev/zero) is never read; never more than `limit` + 1 bytes are read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise FileRefused("open", str(e.strerror or e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused("type")
        if st.st_size > limit and not head:
            raise FileRefused("size", size=st.st_size)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        if size > limit:
            if head:
                return data[:limit]
            raise FileRefused("size")  # grew while being read
        return data
    except OSError as e:
        raise FileRefused("read", str(e.strerror or e)) from None
    finally:
        os.close(fd)


def voc_colormap(n: int = 256) -> np.ndarray:
    """The standard PASCAL VOC colour map: (n, 3) uint8, bit-interleaved from the class index."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def voc_instances(inst: np.ndarray, cls: np.ndarray | None,
                  void: int = 255) -> list[tuple[int, np.ndarray, int]]:
    """(instance id, bool mask, class index) of each object of a VOC instance PNG, in id order: the class is
    the most common value of the class PNG under the object other than background and void (1 without one)."""
    out = []
    for k in np.unique(inst):
        if k == 0 or k == void:
            continue
        mask = inst == k
        index = 1
        if cls is not None:
            vals = cls[mask]
            vals = vals[(vals != 0) & (vals != void)]
            if vals.size:
                index = int(np.bincount(vals).argmax())
        out.append((int(k), mask, index))
    return out


def _open(path: Path, max_pixels: int) -> Image.Image:
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise ImageReadError(f"{path}: the file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # we apply our own limit below, before decoding
            try:
                im = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except Exception as e:  # PIL raises many types for garbage
        raise ImageReadError(f"{path}: not a readable image ({e}).") from None
    w, h = im.size
    if w <= 0 or h <= 0 or w * h > max_pixels:
        raise ImageReadError(
            f"{path}: declared size {w}x{h} exceeds the limit of {max_pixels:,} pixels "
            "(refusing to decode a possible decompression bomb).")
    return im


def read_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), EXIF orientation applied; ImageReadError if not."""
    path = Path(path)
    im = _open(path, max_pixels)
    try:
        im.load()
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            return _deep_grey_to_rgb(np.asarray(im))
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    except ImageReadError:
        raise
    except Exception as e:
        raise ImageReadError(f"{path}: the image is truncated or corrupt ({e}).") from None


def image_shape(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) of an image file as read_image gives it (EXIF orientation applied), from its header
    alone; ImageReadError as read_image raises it for a file that is not an image or too large."""
    with _open(Path(path), max_pixels) as im:
        w, h = im.size
        turned = _orientation(im) in (5, 6, 7, 8)  # a quarter turn swaps the sides
    return (w, h) if turned else (h, w)


def exif_orientation(path: str | os.PathLike) -> int:
    """The EXIF orientation tag of an image file (1, the upright default, when absent or unreadable).

    read_image applies it; a tool that reads the raw pixels (PIL's Image.open, most VOC loaders) does
    not, so a file whose tag is not 1 shows other pixels there than here.
    """
    try:
        with Image.open(path) as im:
            return _orientation(im)
    except Exception:  # PIL raises many types for garbage; read_image reports those
        return 1


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation tag of an open image (1 when absent, out of range or unreadable)."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a corrupt EXIF block: read as upright, as exif_orientation always did
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _deep_grey_to_rgb(arr: np.ndarray) -> np.ndarray:
    """16/32-bit grey (H, W) scaled so its maximum is 255, as RGB uint8 (H, W, 3); a few rows at a time."""
    hi = float(np.nanmax(arr)) if arr.size else 0.0
    scale = 255.0 / hi if np.isfinite(hi) and hi > 0 else 0.0
    out = np.empty(arr.shape + (3,), np.uint8)
    for r in range(0, arr.shape[0], _ROWS_PER_CHUNK):
        rows = np.nan_to_num(arr[r: r + _ROWS_PER_CHUNK].astype(np.float32) * scale, nan=0.0)
        out[r: r + _ROWS_PER_CHUNK] = np.clip(rows, 0, 255).astype(np.uint8)[:, :, None]
    return out


def read_index_png(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a label mask (palette 'P' or 8-bit grey 'L' PNG) as uint8 indices (H, W).

    RGB, 16-bit and other modes are refused with ImageReadError: they are not index masks.
    """
    path = Path(path)
    im = _open(path, max_pixels)
    if im.mode not in ("P", "L"):
        raise ImageReadError(
            f"{path}: expected an index mask (palette 'P' or 8-bit 'L' PNG), got mode {im.mode!r}.")
    try:
        im.load()
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    except Exception as e:
        raise ImageReadError(f"{path}: the mask is truncated or corrupt ({e}).") from None


def encode_index_png(indices: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """Encode uint8 indices (H, W) as a palette ('P' mode) PNG, VOC colour map by default."""
    arr = np.asarray(indices)
    if arr.ndim != 2:
        raise ValueError(f"index mask must be 2-D, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError("index mask values must lie in 0..255")
        arr = arr.astype(np.uint8)
    pal = voc_colormap() if palette is None else np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    im = Image.fromarray(arr, mode="P")
    im.putpalette(pal.flatten().tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def write_index_png(path: str | os.PathLike, indices: np.ndarray,
                    palette: np.ndarray | None = None) -> None:
    """Atomically write uint8 indices as a palette PNG (VOC colour map by default)."""
    atomic_write_bytes(path, encode_index_png(indices, palette))


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside `folder`, sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
