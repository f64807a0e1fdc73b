"""Builders of hostile and broken files, and the fuzzing mutators, shared by the reliability tests."""
from __future__ import annotations

import io
import json
import pickle
import random
import signal
import struct
import zipfile
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


# ---- checkpoints: torch's zip format written by hand, so a file can declare anything ---------------
class ForgedStorage:
    """A storage as a checkpoint declares it: record key, torch storage class name, element count."""

    def __init__(self, key: str, kind: str, numel: int) -> None:
        self.key, self.kind, self.numel = key, kind, numel


class ForgedTensor:
    """A tensor pickled exactly as torch.save pickles one, with whatever shape, strides and storage."""

    def __init__(self, storage: ForgedStorage, shape: tuple[int, ...], stride: tuple[int, ...],
                 offset: int = 0) -> None:
        self.storage, self.shape, self.stride, self.offset = storage, tuple(shape), tuple(stride), offset

    def __reduce__(self):
        import collections

        import torch

        return (torch._utils._rebuild_tensor_v2,
                (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


class Record:
    """A zip record: its bytes as stored, compression method (0 stored, 8 deflate), declared size, CRC."""

    def __init__(self, data: bytes, size: int | None = None, method: int = 0, crc: int | None = None,
                 compressed_size: int | None = None) -> None:
        self.data, self.method = data, method
        self.size = len(data) if size is None else size
        self.crc = zlib.crc32(data) & 0xFFFFFFFF if crc is None else crc
        self.compressed_size = len(data) if compressed_size is None else compressed_size  # may lie


def deflated_zeros(nbytes: int) -> Record:
    """A deflated record that inflates to `nbytes` zeros (a few KB per GB; CRC left wrong on purpose)."""
    step = 1 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(bytes(step)) + co.flush(zlib.Z_FULL_FLUSH)
    n, rest = divmod(nbytes, step)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Record(block * n + co.compress(bytes(rest)) + co.flush(zlib.Z_FINISH), size=nbytes, method=8, crc=0)


_STORAGE_KINDS = {"float32": "FloatStorage", "float16": "HalfStorage", "bfloat16": "BFloat16Storage",
                  "float64": "DoubleStorage", "int64": "LongStorage", "int32": "IntStorage",
                  "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage",
                  "complex64": "ComplexFloatStorage", "complex128": "ComplexDoubleStorage"}


def forge_checkpoint(path: Path, payload: Any, records: dict[str, Record] | None = None) -> Path:
    """Write `payload` in torch.save's zip format: real tensors as torch writes them, ForgedTensors as
    declared, and `records` (by storage key) replacing or adding record bytes."""
    import torch

    out_records: dict[str, Record] = {}
    done: dict[int, Any] = {}  # by id: shared values stay shared (and a DAG is not unfolded)

    def convert(obj: Any) -> Any:
        if isinstance(obj, (dict, list, tuple, torch.Tensor)):
            if id(obj) not in done:
                done[id(obj)] = _convert(obj)
            return done[id(obj)]
        return obj

    def _convert(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            key = f"r{len(out_records)}"
            out_records[key] = Record(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            kind = _STORAGE_KINDS[str(t.dtype).replace("torch.", "")]
            stride = tuple(t.stride())
            return ForgedTensor(ForgedStorage(key, kind, t.numel()), tuple(t.shape), stride)
        if isinstance(obj, dict):
            return type(obj)((k, convert(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return type(obj)(convert(v) for v in obj)
        return obj

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, ForgedStorage):
                return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(convert(payload))
    out_records.update(records or {})
    entries = [("archive/data.pkl", Record(buf.getvalue())), ("archive/byteorder", Record(b"little"))]
    entries += [(f"archive/data/{k}", r) for k, r in out_records.items()]
    entries += [("archive/version", Record(b"3\n"))]
    path.write_bytes(_zip(entries))
    return path


def _zip(entries: list[tuple[str, Record]]) -> bytes:
    """A plain zip (no zip64): local headers, data, central directory."""
    body, central = bytearray(), bytearray()
    for name, r in entries:
        n = name.encode()
        fields = struct.pack("<HHHHHIII", 20, 0, r.method, 0, 0x21, r.crc, r.compressed_size, r.size)
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHHHII", len(n), 0, 0, 0, 0, 0,
                                                                                   len(body)) + n
        body += b"PK\x03\x04" + fields + struct.pack("<HH", len(n), 0) + n + r.data
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    return bytes(body + central + end)


def _variant(base: dict, **changes: Any) -> dict:
    """A deep-enough copy of a checkpoint payload with top-level, spec (spec__x) or weight (sd__x) changes."""
    out = dict(base, spec=dict(base["spec"]), state_dict=dict(base["state_dict"]))
    for k, v in changes.items():
        where, _, name = k.rpartition("__")
        target = {"": out, "spec": out["spec"], "sd": out["state_dict"]}[where]
        if v is _DROP:
            target.pop(name, None)
        else:
            target[name] = v
    return out


_DROP = object()


def _keys(state: dict) -> tuple[str, str, str]:
    """A conv weight, a BN running variance and a num_batches_tracked of a state dict."""
    conv = next(k for k, v in state.items() if v.ndim == 4)
    var = next(k for k in state if k.endswith("running_var"))
    nbt = next(k for k in state if k.endswith("num_batches_tracked"))
    return conv, var, nbt


def memory_checkpoints(folder: Path, good: Path) -> dict[str, tuple[Path, str | None]]:
    """Checkpoints small on disk that declare gigabytes: name -> (path, words the refusal must contain,
    or None for a valid file that must load).

    Before any of these is materialised the loader must see that the sizes do not fit the architecture:
    a zero-stride fp16 tensor that becomes 17 GB when converted, a deflated record that inflates to
    2.8 GB, an 80 GB storage over a 16-byte record.
    """
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    base = torch.load(good, weights_only=True)
    conv, _, _ = _keys(base["state_dict"])
    shape = tuple(base["state_dict"][conv].shape)
    contiguous = tuple(torch.empty(shape).stride())
    zero = {"z": Record(bytes(2))}
    cases = {
        "zero_stride_17gb.pt": (_variant(base, **{f"sd__{conv}": ForgedTensor(
            ForgedStorage("z", "HalfStorage", 1), (65536, 65536), (0, 0))}), zero, "refusing to materialise"),
        "zero_stride_right_shape.pt": (_variant(base, **{f"sd__{conv}": ForgedTensor(
            ForgedStorage("z", "HalfStorage", 1), shape, (0,) * len(shape))}), zero, "refusing to materialise"),
        "deflated_2_8gb.pt": (_variant(base, **{f"sd__{conv}": ForgedTensor(
            ForgedStorage("bomb", "HalfStorage", 1_400_000_000), shape, contiguous)}),
            {"bomb": deflated_zeros(2_800_000_000)}, "compressed"),
        "stored_record_2_8gb.pt": (_variant(base, **{f"sd__{conv}": ForgedTensor(
            ForgedStorage("big", "HalfStorage", 1_400_000_000), shape, contiguous)}),
            {"big": Record(bytes(16), size=2_800_000_000, compressed_size=2_800_000_000)}, "over the"),
        "storage_80gb.pt": (_variant(base, **{f"sd__{conv}": ForgedTensor(
            ForgedStorage("big", "FloatStorage", 20_000_000_000), shape, contiguous)}),
            {"big": Record(bytes(16))}, "80,000,000,000"),
        "extra_80gb.pt": (_variant(base, extra={"optimizer": {"state": {0: {"exp_avg": ForgedTensor(
            ForgedStorage("big", "FloatStorage", 20_000_000_000), (20_000_000_000,), (1,))}}}}),
            {"big": Record(bytes(16))}, "80,000,000,000"),
        "extra_zero_stride.pt": (_variant(base, extra={"rng": ForgedTensor(
            ForgedStorage("z", "HalfStorage", 1), (1 << 34,), (0,))}), zero, "refusing to materialise"),
    }
    out = {name: (forge_checkpoint(folder / name, payload, records), words)
           for name, (payload, records, words) in cases.items()}
    # valid (torch reads it): must load, in bounded memory
    out["memo_index_16gb.pt"] = (_with_memo_bomb(forge_checkpoint(folder / "memo_index_16gb.pt", base)), None)
    return out


def _with_memo_bomb(path: Path) -> Path:
    """Memo the top-level dict at index 2**31 - 1 instead of 0: a valid pickle that torch reads, but a C
    unpickler sizes its memo array to that index (16 GB)."""
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, Record(z.read(i.filename))) for i in z.infolist()]
    name, rec = entries[0]
    assert name.endswith("data.pkl") and rec.data[:5] == b"\x80\x02}q\x00"
    data = rec.data[:3] + b"r" + struct.pack("<I", 2 ** 31 - 1) + rec.data[5:]
    path.write_bytes(_zip([(name, Record(data))] + entries[1:]))
    return path


def malformed_checkpoints(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Checkpoints with wrong types, values or structure: name -> (path, words the refusal must contain)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    base = torch.load(good, weights_only=True)
    state = base["state_dict"]
    conv, var, nbt = _keys(state)
    w = state[conv]

    def with_value(t: torch.Tensor, value: float) -> torch.Tensor:
        t = t.clone()
        t.view(-1)[0] = value
        return t
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    shared: Any = [1]
    for _ in range(30):  # 2**30 values when unfolded, 30 deep
        shared = [shared, shared]
    cases: dict[str, tuple[dict | list, str]] = {
        "version_str.pt": (_variant(base, version="1"), "version"),
        "version_float.pt": (_variant(base, version=1.5), "version"),
        "version_none.pt": (_variant(base, version=None), "version"),
        "version_future.pt": (_variant(base, version=99), "newer"),
        "meta_list.pt": (_variant(base, meta=[1, 2]), "'meta'"),
        "meta_str.pt": (_variant(base, meta="hello"), "'meta'"),
        "extra_list.pt": (_variant(base, extra=[1]), "'extra'"),
        "extra_str.pt": (_variant(base, extra="x"), "'extra'"),
        "meta_tensor.pt": (_variant(base, meta={"x": torch.zeros(3)}), "tensors"),
        "meta_huge_int.pt": (_variant(base, meta={"steps": 2 ** 100}), "absurd integer"),
        "meta_deep.pt": (_variant(base, meta={"deep": deep}), "deep"),
        "meta_shared.pt": (_variant(base, meta={"shared": shared}), "more than"),
        "spec_list.pt": (_variant(base, spec=[1, 2]), "spec"),
        "spec_missing.pt": (_variant(base, spec=_DROP), "spec"),
        "spec_mean_int.pt": (_variant(base, spec__mean=5), "mean"),
        "spec_mean_str.pt": (_variant(base, spec__mean="abc"), "mean"),
        "spec_mean_nan.pt": (_variant(base, spec__mean=[float("nan"), 0.5, 0.5]), "mean"),
        "spec_std_zero.pt": (_variant(base, spec__std=[0.0, 0.0, 0.0]), "std"),
        "spec_clamp_nan.pt": (_variant(base, spec__clamp=float("nan")), "clamp"),
        "spec_clamp_inf.pt": (_variant(base, spec__clamp=float("inf")), "clamp"),
        "spec_clamp_tiny.pt": (_variant(base, spec__clamp=1e-300), "clamp"),
        "spec_stride_str.pt": (_variant(base, spec__stride="8"), "stride"),
        "spec_backbone_list.pt": (_variant(base, spec__backbone=["resnet18"]), "backbone"),
        "spec_extra_list.pt": (_variant(base, spec__extra=[1]), "extra"),
        "spec_unknown_field.pt": (_variant(base, spec__bogus=1), "unknown fields"),
        "state_int_keys.pt": (_variant(base, state_dict={i: v for i, v in enumerate(state.values())}),
                              "not names"),
        "state_list.pt": (_variant(base, state_dict=list(state.values())), "state dict"),
        "state_missing_key.pt": (_variant(base, **{f"sd__{conv}": _DROP}), "do not match"),
        "state_extra_key.pt": (_variant(base, sd__bogus=torch.zeros(1)), "do not match"),
        "state_wrong_shape.pt": (_variant(base, **{f"sd__{conv}": w.flatten()}), "do not match"),
        "state_not_tensor.pt": (_variant(base, **{f"sd__{conv}": 3.0}), "not a tensor"),
        "weights_nan.pt": (_variant(base, **{f"sd__{conv}": with_value(w, float("nan"))}), "NaN"),
        "weights_inf.pt": (_variant(base, **{f"sd__{conv}": with_value(w, float("-inf"))}), "NaN or infinite"),
        "weights_huge.pt": (_variant(base, **{f"sd__{conv}": with_value(w.float(), 1e30)}), "beyond"),
        "running_var_negative.pt": (_variant(base, **{f"sd__{var}": with_value(state[var], -1.0)}),
                                    "negative variance"),
        "weights_int8.pt": (_variant(base, **{f"sd__{conv}": w.to(torch.int8)}), "int8"),
        "weights_complex.pt": (_variant(base, **{f"sd__{conv}": w.to(torch.complex64)}), "complex64"),
        "counter_float.pt": (_variant(base, **{f"sd__{nbt}": state[nbt].float()}), "int64"),
        "extra_complex.pt": (_variant(base, extra={"optimizer": torch.zeros(2, dtype=torch.complex64)}),
                             "complex64"),
        "bare_list.pt": ([1, 2, 3], "not an ifcn checkpoint"),
    }
    return {name: (forge_checkpoint(folder / name, payload), words) for name, (payload, words) in cases.items()}


def broken_checkpoint_files(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Files that are not torch archives at all, or damaged ones: name -> (path, words of the refusal)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    files: dict[str, tuple[bytes | None, str]] = {
        "empty.pt": (b"", "empty"),
        "text.pt": (b"not a checkpoint\n", "not a readable checkpoint"),
        "truncated.pt": (data[: len(data) // 3], "not a readable checkpoint"),
        "raw_pickle.pt": (pickle.dumps({"format": "ifcn-checkpoint"}), "not a readable checkpoint"),
        "zip_without_pickle.pt": (_zip([("archive/readme.txt", Record(b"hello"))]), "data.pkl"),
        "huge_pickle.pt": (_zip([("archive/data.pkl", Record(b"", size=2 ** 31))]), "over the limit"),
        "a_folder.pt": (None, "not a regular file"),
    }
    out = {}
    for name, (content, words) in files.items():
        p = folder / name
        if content is None:
            p.mkdir(exist_ok=True)
        else:
            p.write_bytes(content)
        out[name] = (p, words)
    return out


# ---- running readers in a child process: peak memory and time ----------------------------------
#: A child whose resident memory passes this is killed at once (the machine's safety net, not the test's
#: limit: the tests assert each file's own peak, far lower).
KILL_ABOVE_MB = 4000


class Measured:
    """What a child did: exit status, output, its own peak RSS (MB), wall time, killed by the watchdog."""

    def __init__(self, rc: int, out: str, err: str, maxrss_mb: float, seconds: float, killed: str) -> None:
        self.rc, self.out, self.err, self.maxrss_mb, self.seconds, self.killed = rc, out, err, maxrss_mb, seconds, killed


def run_measured(argv: list[str], timeout: float, cwd: Path | None = None,
                 kill_above_mb: float = KILL_ABOVE_MB) -> Measured:
    """Run argv; kill it past `timeout` s or `kill_above_mb` MB resident; its peak RSS from wait4()."""
    import os
    import subprocess
    import tempfile
    import time

    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd or repo,
                                env={**os.environ, "PYTHONPATH": str(repo)})
        killed = ""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _rss_mb(proc.pid)
            if rss > kill_above_mb:
                killed = f"killed at {rss:.0f} MB resident"
            elif time.perf_counter() - t > timeout:
                killed = f"killed after {timeout} s"
            if killed:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024.0,
                        time.perf_counter() - t, killed)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def probe(jobs: list[tuple[str, Path]], timeout: float = 120) -> tuple[list[dict], Measured]:
    """Each (reader kind, file) in one child (tests/reliability/probe.py): its reports, and the child."""
    import sys

    m = run_measured([sys.executable, "-m", "tests.reliability.probe", *(f"{k}={p}" for k, p in jobs)], timeout)
    reports = [json.loads(line) for line in m.out.splitlines() if line.startswith("{")]
    return reports, m


# ---- output paths ---------------------------------------------------------------------------------
def bad_output_paths(tmp_path: Path, kind: str) -> dict[str, str]:
    """Output paths (`kind` "file" or "dir") that cannot be written, even by root: case -> path."""
    import os

    a_file = tmp_path / "a_file.txt"
    a_file.write_text("x")
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir(exist_ok=True)
    cases = {
        "under_a_file": str(a_file / "sub" / ("out.npz" if kind == "file" else "out")),
        "name_too_long": str(tmp_path / ("x" * 300) / "out"),
        "nul_byte": str(tmp_path / "a\0b"),
        "a_folder" if kind == "file" else "a_file": str(a_dir if kind == "file" else a_file),
    }
    try:  # sysfs refuses new entries to everyone
        os.mkdir("/sys/ifcn-write-probe")
        os.rmdir("/sys/ifcn-write-probe")
    except OSError:
        cases["unwritable"] = "/sys/ifcn-test/out"
    return cases


def hostile_class_files() -> dict[str, dict[str, str | bytes]]:
    """Class lists that must be refused with ClassListError naming the file: kind ("classes.json" or
    "labels.txt") → case name → content (FIFOs and device links are made by the test)."""
    row = lambda **c: {"index": 1, "name": "a", "color": [1, 2, 3], **c}  # noqa: E731
    doc = lambda *rows, **top: json.dumps({"format": "ifcn-classes", "version": 1,  # noqa: E731
                                           "classes": list(rows), **top})
    return {
        "classes.json": {
            "truncated": doc(row())[:25], "empty": "", "not_utf8": b"\xff\xfe\x00{\x80",
            "list": "[]", "other_format": json.dumps({"format": "ifcn-annotation", "version": 1}),
            "future_version": doc(row(), version=7), "classes_not_list": doc(classes={"1": "a"}),
            "index_zero": doc(row(index=0)), "index_void": doc(row(index=255)), "index_big": doc(row(index=2 ** 70)),
            "index_bool": doc(row(index=True)), "index_float": doc(row(index=1.5)),
            "index_twice": doc(row(), row(name="b")), "name_twice": doc(row(), row(index=2)),
            "name_empty": doc(row(name="  ")), "name_control": doc(row(name="a\u0000b")),
            "name_huge": doc(row(name="x" * 100_000)), "name_ignore": doc(row(name="__ignore__")),
            "name_not_text": doc(row(name=["a"])), "colour_range": doc(row(color=[1000, -3, 0])),
            "colour_inf": doc(row(color=[float("inf"), 0, 0])), "colour_short": doc(row(color=[1, 2])),
            "colour_bool": doc(row(color=[True, 0, 0])),
            "too_many": doc(*[row(index=i % 254 + 1, name=f"c{i}") for i in range(300)]),
            "previous_not_list": doc(row(previous_names="a")),
            "previous_many": doc(row(previous_names=[f"p{i}" for i in range(100)])),
            "deep_nesting": "[" * 50_000 + "]" * 50_000,
            "two_megabytes": doc(row()) + " " * (2 << 20),
        },
        "labels.txt": {
            "twice": "cat\ndog\ncat\n", "control": "cat\nbad\u0007\n", "huge_name": "y" * 5000 + "\n",
            "too_many": "".join(f"c{i}\n" for i in range(400)), "binary": b"\xff\xfe\x00\x81garbage",
            "two_megabytes": "cat\n" * (600 << 10),
        },
    }
