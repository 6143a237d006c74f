"""Read a PyTorch state dict saved in the legacy (pre-1.6) format, without torch and
without running code from the file.

The legacy format (``torch.serialization._legacy_save``) is five pickles in a row: a magic
number, a protocol version, system information, the state dict (tensors as
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` calls whose storages
are persistent ids), the list of storage keys; then each storage as a little-endian int64
element count followed by its raw bytes.

The unpickler here resolves only the names such a file needs (an ``OrderedDict``, the
tensor rebuild function, the float/long storage types); any other global (``os.system``,
``builtins.eval``...) is refused, so reading a hostile file runs none of its code. Every
tensor's offset, shape and stride is checked against its storage before it is viewed.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from finml.errors import BundleError

#: ``torch.serialization.MAGIC_NUMBER`` and the legacy protocol version.
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
#: Storage type names a state dict of weights uses -> their numpy dtype (little-endian).
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
}
#: Most tensors and dimensions a weights file may hold.
MAX_TENSORS = 5000
MAX_DIMS = 8


@dataclass(frozen=True)
class _Tensor:
    """A tensor as the pickle describes it, before its storage is read."""

    key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, size, stride, *_rest) -> _Tensor:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: records where the tensor lies."""
    if not isinstance(storage, str):
        raise BundleError("A tensor in the weights file does not name a storage.")
    try:
        shape, strides = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    except (TypeError, ValueError) as exc:
        raise BundleError("A tensor in the weights file has a malformed shape.") from exc
    if len(shape) != len(strides) or len(shape) > MAX_DIMS or not isinstance(offset, int):
        raise BundleError("A tensor in the weights file has a malformed shape.")
    return _Tensor(storage, offset, shape, strides)


class _WeightsUnpickler(pickle.Unpickler):
    """An unpickler that knows the handful of names a legacy state dict refers to."""

    _GLOBALS: ClassVar[dict] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        **{("torch", name): name for name in STORAGE_DTYPES},
    }

    def __init__(self, file, storages: dict[str, tuple[np.dtype, int]]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        try:
            return self._GLOBALS[(module, name)]
        except KeyError:
            raise BundleError(
                f"The weights file refers to {module}.{name}, which a file of weights never "
                "needs; it was refused unread."
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise BundleError("The weights file has a persistent id that is not a storage.")
        _, kind, key, _location, size = pid[:5]
        if kind not in STORAGE_DTYPES or not isinstance(key, str) or not isinstance(size, int):
            raise BundleError("The weights file has a storage of an unknown type.")
        known = self.storages.setdefault(key, (STORAGE_DTYPES[kind], size))
        if known != (STORAGE_DTYPES[kind], size):
            raise BundleError("The weights file describes one storage in two ways.")
        return key


def _view(tensor: _Tensor, data: np.ndarray) -> np.ndarray:
    """A contiguous copy of ``tensor`` from its storage, after a bounds check."""
    if tensor.offset < 0 or any(s < 0 for s in tensor.shape + tensor.stride):
        raise BundleError("A tensor in the weights file has a negative offset, size or stride.")
    if 0 in tensor.shape:
        return np.zeros(tensor.shape, dtype=data.dtype)
    if int(np.prod(tensor.shape, dtype=object)) > data.size:  # strides of 0 repeat elements
        raise BundleError("A tensor in the weights file has more elements than its storage.")
    reach = zip(tensor.shape, tensor.stride, strict=True)
    last = tensor.offset + sum((n - 1) * s for n, s in reach)
    if last >= data.size:
        raise BundleError("A tensor in the weights file reaches past the end of its storage.")
    strides = tuple(s * data.itemsize for s in tensor.stride)
    view = np.lib.stride_tricks.as_strided(
        data[tensor.offset :], shape=tensor.shape, strides=strides, writeable=False
    )
    return view.copy(order="C")  # keeps a 0-d tensor 0-d


def read_state_dict(raw: bytes) -> dict[str, np.ndarray]:
    """The tensors of a legacy PyTorch state dict, as numpy arrays.

    Args:
        raw: the whole ``.pth`` file.

    Returns:
        Tensor name -> C-contiguous array (float32 weights, int64 counters), in file order.

    Raises:
        BundleError: not a legacy PyTorch file, a global outside the allow-list, a value
            that is not a tensor, a storage cut short, or a tensor outside its storage.
    """
    f = io.BytesIO(raw)
    storages: dict[str, tuple[np.dtype, int]] = {}

    def load():
        try:
            return _WeightsUnpickler(f, storages).load()
        except BundleError:
            raise
        except Exception as exc:  # truncated or malformed pickle data
            raise BundleError(f"The weights file is not a readable PyTorch file ({exc}).") from exc

    if load() != MAGIC_NUMBER or load() != PROTOCOL_VERSION:
        raise BundleError("The weights file is not in PyTorch's legacy format.")
    info = load()  # system information: endianness and type sizes
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise BundleError("The weights file was not written on a little-endian machine.")
    state, keys = load(), load()
    if not isinstance(state, dict) or not isinstance(keys, list) or len(state) > MAX_TENSORS:
        raise BundleError("The weights file does not hold a state dict.")
    data: dict[str, np.ndarray] = {}
    for key in keys:
        if not isinstance(key, str) or key not in storages or key in data:
            raise BundleError("The weights file lists a storage it does not describe.")
        dtype, size = storages[key]
        head = f.read(8)
        if len(head) != 8 or struct.unpack("<q", head)[0] != size:
            raise BundleError("A storage in the weights file has the wrong length.")
        body = f.read(size * dtype.itemsize)
        if len(body) != size * dtype.itemsize:
            raise BundleError("The weights file is cut short.")
        data[key] = np.frombuffer(body, dtype=dtype)
    if f.read(1):
        raise BundleError("The weights file has bytes after its last storage.")
    out: dict[str, np.ndarray] = {}
    for name, tensor in state.items():
        if not isinstance(name, str) or not isinstance(tensor, _Tensor) or tensor.key not in data:
            raise BundleError("The weights file holds something other than named tensors.")
        out[name] = _view(tensor, data[tensor.key])
    return out
