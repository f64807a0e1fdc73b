"""Builders of hostile checkpoints: torch's zip format written by hand, so a file can declare anything."""
from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any


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

