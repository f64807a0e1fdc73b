"""A checkpoint file checked before torch materialises any of it.

`torch.load(weights_only=True)` refuses code but trusts every size the file declares: a tensor with zero
strides over a one-element storage turns into gigabytes when converted, and a record's declared size is
allocated (and inflated) before anything looks at it. So the pickle is first read by a restricted
unpickler into a skeleton, each tensor as its declared dtype, shape, strides and storage with no data, and
every declared size is checked against the zip records and against the architecture the spec builds.
Only then does torch.load run; the values it gives are checked last (finite, in range).
"""
from __future__ import annotations

import collections
import io
import math
import pickle
import zipfile
from dataclasses import dataclass
from typing import IO, Any, Iterator

import torch

from models.errors import CheckpointError
from models.spec import EXTRA_INITS, STRIDES, UPSAMPLES

#: The pickle (everything but the tensor data) of a checkpoint; Adam's state for ResNet-152 is ~100 KB.
MAX_PICKLE_BYTES = 64 * 2**20
#: Values walked in the pickle (dicts, lists, numbers...); a real last.pt has a few thousand.
MAX_NODES = 200_000
#: Nesting of those values (a real last.pt nests 5 deep).
MAX_DEPTH = 32
MAX_DIMS = 8
MAX_INT = 2**63
#: Storage a file may declare: 4x the architecture's fp32 weights (weights, Adam's two moments and
#: slack for the RNG and scaler states) plus this.
SLACK_BYTES = 64 * 2**20
#: Largest |value| in the weights (default.pt's largest is a BN running variance of ~650).
MAX_ABS_WEIGHT = 1e6
#: Ranges of the input normalisation in the spec (RGB in [0, 1]; distance maps in pixels / clamp).
MEAN_RANGE = (-1e3, 1e3)
STD_RANGE = (1e-3, 1e3)
CLAMP_RANGE = (1e-2, 1e6)

FLOAT_DTYPES = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})
#: What `extra` (optimiser moments, RNG and scaler states) may hold.
EXTRA_DTYPES = FLOAT_DTYPES | {torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool}
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
}


class Refused(pickle.UnpicklingError):
    """The pickle names a Python object other than tensors and plain data."""


@dataclass(frozen=True)
class StorageRef:
    """A storage as the pickle declares it: record key, element type and count."""

    key: str
    dtype: torch.dtype
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize


@dataclass(frozen=True)
class TensorRef:
    """A tensor as the pickle declares it: a strided view of a storage, no data."""

    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def dtype(self) -> torch.dtype:
        return self.storage.dtype

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def extent(self) -> int:
        """Elements of the storage the view reaches (offset included)."""
        if self.numel == 0:
            return 0
        return self.offset + 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride))


@dataclass
class Skeleton:
    """The payload with tensors as TensorRefs, the storages it declares and the zip's records."""

    payload: Any
    storages: dict[str, StorageRef]
    records: dict[str, zipfile.ZipInfo]
    prefix: str


def _int(x: Any, what: str) -> int:
    if type(x) is not int or not 0 <= x < MAX_INT:
        raise pickle.UnpicklingError(f"{what} is not a non-negative integer")
    return x


def _ints(xs: Any, what: str) -> tuple[int, ...]:
    if not isinstance(xs, (tuple, list)) or len(xs) > MAX_DIMS:
        raise pickle.UnpicklingError(f"{what} is not a tuple of at most {MAX_DIMS} integers")
    return tuple(_int(x, what) for x in xs)


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                    backward_hooks: Any = None, metadata: Any = None) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError("a tensor without a storage")
    shape, strides = _ints(size, "a tensor shape"), _ints(stride, "a tensor stride")
    if len(shape) != len(strides):
        raise pickle.UnpicklingError("a tensor whose shape and strides differ in length")
    if backward_hooks:
        raise Refused("a tensor with backward hooks")
    return TensorRef(storage, _int(offset, "a storage offset"), shape, strides)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, *rest: Any) -> TensorRef:
    if not isinstance(data, TensorRef) or backward_hooks:
        raise pickle.UnpicklingError("a parameter without a tensor")
    return data


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _SkeletonUnpickler(pickle._Unpickler):  # noqa: SLF001
    """Builds tensors as TensorRefs; any global outside a short list raises Refused.

    The pure-Python unpickler on purpose: its memo is a dict, where the C one grows an array to the
    largest index a PUT names (LONG_BINPUT 2**31 asks it for 16 GB).
    """

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self.storages: dict[str, StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise Refused(f"global '{str(module)[:80]}.{str(name)[:80]}' is not allowed") from None

    def persistent_load(self, pid: Any) -> StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and len(pid[2]) <= 64
                and isinstance(pid[3], str)):
            raise pickle.UnpicklingError("an unknown persistent id (not a torch storage)")
        ref = StorageRef(pid[2], pid[1].dtype, _int(pid[4], "a storage size"))
        if self.storages.setdefault(ref.key, ref) != ref:
            raise pickle.UnpicklingError(f"storage {ref.key} declared twice with different sizes or types")
        return ref


def read_skeleton(f: IO[bytes]) -> Skeleton:
    """The skeleton of the torch zip in `f`; CheckpointError (no file name) when it is not one."""
    try:
        z = zipfile.ZipFile(f)
        infos = z.infolist()
    except Exception as e:  # zipfile raises many types for garbage
        raise CheckpointError(f"not a readable checkpoint (not a torch zip archive: {_short(e)}).") from None
    names = [i.filename for i in infos]
    if not names or "/" not in names[0]:
        raise CheckpointError("not a readable checkpoint (not a torch zip archive).")
    if len(set(names)) != len(names):
        raise CheckpointError("not a readable checkpoint (the archive names a record twice).")
    prefix = names[0].split("/", 1)[0]
    records = {i.filename: i for i in infos}
    pkl = records.get(f"{prefix}/data.pkl")
    if pkl is None:
        raise CheckpointError("not a readable checkpoint (no data.pkl in the archive).")
    if pkl.file_size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"its data.pkl declares {pkl.file_size:,} bytes, over the limit of "
                              f"{MAX_PICKLE_BYTES:,}.")
    try:
        with z.open(pkl) as fh:
            data = fh.read(MAX_PICKLE_BYTES + 1)
    except Exception as e:
        raise CheckpointError(f"not a readable checkpoint (truncated or corrupt: {_short(e)}).") from None
    if len(data) > MAX_PICKLE_BYTES:
        raise CheckpointError(f"its data.pkl is over the limit of {MAX_PICKLE_BYTES:,} bytes.")
    up = _SkeletonUnpickler(io.BytesIO(data))
    try:
        payload = up.load()
    except Refused as e:
        raise CheckpointError(
            "refused to load — the file holds Python objects other than tensors and plain data, which "
            f"could run code ({_short(e)}).") from None
    except Exception as e:  # a corrupt pickle raises anything
        raise CheckpointError(f"not a readable checkpoint (corrupt pickle: {_short(e)}).") from None
    return Skeleton(payload, up.storages, records, prefix)


def walk(obj: Any) -> Iterator[tuple[str, Any]]:
    """(path, value) of every value under `obj`, depth first; CheckpointError past MAX_NODES or MAX_DEPTH."""
    stack: list[tuple[str, int, Any]] = [("", 0, obj)]
    seen = 0
    while stack:
        path, depth, node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise CheckpointError(f"it holds more than {MAX_NODES:,} values (or a structure shared "
                                  "with itself).")
        if depth > MAX_DEPTH:
            raise CheckpointError(f"it nests values more than {MAX_DEPTH} deep.")
        yield path, node
        if isinstance(node, dict):
            stack.extend((f"{path}/{_show(k)}", depth + 1, v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{path}/{i}", depth + 1, v) for i, v in enumerate(node))


def check_plain(skel: Skeleton) -> None:
    """Every value is plain data or a tensor, integers in int64 range, tensors inside their storage."""
    for path, node in walk(skel.payload):
        if isinstance(node, bool) or node is None or isinstance(node, (float, str, bytes)):
            continue
        if isinstance(node, int):
            if not -MAX_INT <= node < MAX_INT:
                raise CheckpointError(f"the value at {path[:200]} is an absurd integer.")
        elif isinstance(node, TensorRef):
            _check_view(node, path)
        elif isinstance(node, dict):
            bad = [k for k in node if not (k is None or isinstance(k, (str, int, float)))]
            if bad:
                raise CheckpointError(f"the mapping at {path[:200] or '/'} has a key that is a "
                                      f"{type(bad[0]).__name__}.")
        elif not isinstance(node, (list, tuple)):
            raise CheckpointError(f"the value at {path[:200]} is a {type(node).__name__}, not plain data.")


def _check_view(t: TensorRef, path: str) -> None:
    if t.numel > t.storage.numel or t.extent > t.storage.numel:
        raise CheckpointError(
            f"the tensor at {path[:200]} declares {t.numel:,} elements (shape {list(t.shape)}, strides "
            f"{list(t.stride)}) over a storage of {t.storage.numel:,}; refusing to materialise it.")


def check_header(payload: Any, fmt: str, version: int) -> dict[str, Any]:
    """The top-level dict: format, version, and meta / extra / state_dict of the right kinds."""
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        hint = ""
        if isinstance(payload, dict) and payload and all(isinstance(v, TensorRef) for v in payload.values()):
            hint = " It looks like a bare state dict; ifcn checkpoints also carry the architecture spec."
        raise CheckpointError(f"not an ifcn checkpoint.{hint}")
    v = payload.get("version", version)
    if type(v) is not int or v < 1:
        raise CheckpointError(f"its version is {_show(v)}, not a positive integer.")
    if v > version:
        raise CheckpointError(f"checkpoint version {v} is newer than this program understands "
                              f"({version}); update ifcn-annotator.")
    for key in ("meta", "extra"):
        value = payload.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise CheckpointError(f"its '{key}' is a {type(value).__name__}, not a mapping of names.")
    if "spec" not in payload:
        raise CheckpointError("the checkpoint has no architecture spec.")
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError("the checkpoint has no state dict.")
    bad = [k for k in state if not isinstance(k, str)]
    if bad:
        raise CheckpointError(f"its state dict has keys that are not names ({_show(bad[0])}).")
    return payload


def check_spec(d: Any) -> dict[str, Any]:
    """The spec's fields have the types and ranges ModelSpec and the network need."""
    if not isinstance(d, dict):
        raise CheckpointError("its model spec is not a mapping.")
    kinds = {"backbone": str, "upsample": str, "extra_init": str, "extra": dict}
    for k, kind in kinds.items():
        if k in d and not isinstance(d[k], kind):
            raise CheckpointError(f"its model spec's {k} is {_show(d[k])}, not a {kind.__name__}.")
    if "stride" in d and (type(d["stride"]) is not int or d["stride"] not in STRIDES):
        raise CheckpointError(f"its model spec's stride is {_show(d['stride'])}, not one of {STRIDES}.")
    if d.get("upsample", UPSAMPLES[0]) not in UPSAMPLES or d.get("extra_init", EXTRA_INITS[0]) not in EXTRA_INITS:
        raise CheckpointError(f"its model spec has an unknown upsample or extra_init "
                              f"({_show(d.get('upsample'))}, {_show(d.get('extra_init'))}).")
    for k, (lo, hi) in (("mean", MEAN_RANGE), ("std", STD_RANGE)):
        if k in d:
            v = d[k]
            if not (isinstance(v, (list, tuple)) and len(v) == 3 and all(_real(x) for x in v)
                    and all(lo <= x <= hi for x in v)):
                raise CheckpointError(f"its model spec's {k} is {_show(v)}, not three numbers in "
                                      f"[{lo:g}, {hi:g}].")
    if "clamp" in d and not (_real(d["clamp"]) and CLAMP_RANGE[0] <= d["clamp"] <= CLAMP_RANGE[1]):
        raise CheckpointError(f"its model spec's clamp is {_show(d['clamp'])}, not a number in "
                              f"[{CLAMP_RANGE[0]:g}, {CLAMP_RANGE[1]:g}].")
    return d


def expected_state(model: torch.nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Shape and dtype of each state-dict entry of `model` (a meta-device model will do)."""
    return {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}


def check_against(skel: Skeleton, expected: dict[str, tuple[tuple[int, ...], torch.dtype]],
                  arch: str) -> None:
    """Weights match the architecture in names, shapes and kinds; storages match their records and fit
    the budget the architecture allows. Nothing is read but the zip's directory."""
    state = skel.payload["state_dict"]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        detail = "; ".join(s for s in (
            f"missing {len(missing)}: {', '.join(missing[:3])}" if missing else "",
            f"unexpected {len(unexpected)}: {', '.join(_show(k) for k in unexpected[:3])}" if unexpected else "",
        ) if s)
        raise CheckpointError(f"the weights do not match the {arch} architecture it declares ({detail}).")
    for k, (shape, dtype) in expected.items():
        t = state[k]
        if not isinstance(t, TensorRef):
            raise CheckpointError(f"its weight {k} is a {type(t).__name__}, not a tensor.")
        if t.shape != shape:
            raise CheckpointError(f"the weights do not match the {arch} architecture it declares ({k}: "
                                  f"shape {list(t.shape)}, expected {list(shape)}).")
        allowed = FLOAT_DTYPES if dtype.is_floating_point else {dtype}
        if t.dtype not in allowed:
            raise CheckpointError(f"its weight {k} is {str(t.dtype).replace('torch.', '')}, expected "
                                  f"{'floating point' if dtype.is_floating_point else str(dtype).replace('torch.', '')}.")
    for path, node in walk(skel.payload.get("extra") or {}):
        if isinstance(node, TensorRef) and node.dtype not in EXTRA_DTYPES:
            raise CheckpointError(f"its training state at extra{path[:200]} is "
                                  f"{str(node.dtype).replace('torch.', '')}.")
    budget = 4 * sum(math.prod(s) * 4 for s, _ in expected.values()) + SLACK_BYTES
    total = 0
    for ref in skel.storages.values():
        info = skel.records.get(f"{skel.prefix}/data/{ref.key}")
        if info is None:
            raise CheckpointError(f"not a readable checkpoint (truncated or corrupt: record data/{ref.key} "
                                  "is missing).")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"its record data/{ref.key} is compressed; torch.save writes records "
                                  "uncompressed (refusing to inflate it).")
        if info.file_size != ref.nbytes or info.compress_size != info.file_size:
            raise CheckpointError(f"its record data/{ref.key} holds {info.file_size:,} bytes where the "
                                  f"storage declares {ref.nbytes:,}.")
        total += ref.nbytes
        if total > budget:
            raise CheckpointError(f"its tensors declare {total:,} bytes or more, over the "
                                  f"{budget:,} that the {arch} architecture and its training state need.")


def check_values(state: dict[str, torch.Tensor]) -> None:
    """Loaded weights are finite, of sane magnitude, and BN running variances non-negative."""
    for k, v in state.items():
        if not (isinstance(v, torch.Tensor) and v.is_floating_point()) or v.numel() == 0:
            continue
        if not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"its weight {k} holds NaN or infinite values.")
        peak = float(v.abs().max())
        if peak > MAX_ABS_WEIGHT:
            raise CheckpointError(f"its weight {k} holds {peak:.3g}, beyond any trained network "
                                  f"(limit {MAX_ABS_WEIGHT:g}).")
        if k.endswith("running_var") and float(v.min()) < 0:
            raise CheckpointError(f"its weight {k} holds a negative variance.")


def _real(x: Any) -> bool:
    return (type(x) is float and math.isfinite(x)) or (type(x) is int and abs(x) < MAX_INT)


def _show(x: Any) -> str:
    """A short repr that never fails (huge ints, deep structures)."""
    try:
        s = repr(x)
    except Exception:
        s = f"<{type(x).__name__}>"
    return s if len(s) <= 60 else s[:57] + "..."


def _short(e: BaseException) -> str:
    lines = str(e).splitlines()
    return (lines[0] if lines else type(e).__name__)[:200]
