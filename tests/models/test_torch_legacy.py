"""The torch-free reader of legacy PyTorch state dicts: the real EfficientNet-Lite0 file,
hand-written legacy files read back exactly, and hostile files refused without running code."""

from __future__ import annotations

import builtins
import collections
import contextlib
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from dataclasses import dataclass

import numpy as np
import pytest

from finml.errors import BundleError
from finml.models import efficientnet
from finml.models.torch_legacy import MAGIC_NUMBER, PROTOCOL_VERSION, read_state_dict

SYS_INFO = {
    "protocol_version": PROTOCOL_VERSION,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


# --- a writer of legacy files: torch.save(..., _use_new_zipfile_serialization=False) without torch


def _fake_global(module: str, name: str, obj):
    """``obj`` renamed so that pickle writes it as the global ``module.name``."""
    obj.__module__, obj.__qualname__, obj.__name__ = module, name, name
    return obj


def _rebuild_tensor_v2(*args):
    raise AssertionError("only ever pickled, never called")


class FloatStorage:
    """Pickled as ``torch.FloatStorage``."""


TORCH_GLOBALS = {
    "torch": {"FloatStorage": _fake_global("torch", "FloatStorage", FloatStorage)},
    "torch._utils": {
        "_rebuild_tensor_v2": _fake_global("torch._utils", "_rebuild_tensor_v2", _rebuild_tensor_v2)
    },
}


@contextlib.contextmanager
def _fake_torch():
    """Modules ``torch`` and ``torch._utils`` holding the fakes, in ``sys.modules`` only while
    pickling (pickle looks a global up by its name before it writes it)."""
    with pytest.MonkeyPatch.context() as mp:
        for module, names in TORCH_GLOBALS.items():
            mp.setitem(sys.modules, module, types.SimpleNamespace(**names))
        yield


@dataclass(frozen=True)
class Persistent:
    """An object the pickler writes as the persistent id ``pid``."""

    pid: object


@dataclass(frozen=True)
class Tensor:
    """A tensor to write: a strided view (in elements) of the storage named ``storage``, or
    of any persistent id when ``storage`` is a :class:`Persistent`."""

    storage: str | Persistent
    offset: int
    size: tuple
    stride: tuple

    def __reduce__(self):
        ref = self.storage if isinstance(self.storage, Persistent) else _StorageRef(self.storage)
        args = (ref, self.offset, self.size, self.stride, False, collections.OrderedDict())
        return _rebuild_tensor_v2, args


@dataclass(frozen=True)
class _StorageRef:
    key: str


class _LegacyPickler(pickle.Pickler):
    """Writes storages as torch's legacy ``persistent_id`` does."""

    def __init__(self, file, storages: dict[str, np.ndarray]):
        super().__init__(file, protocol=2)
        self.storages = storages

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", FloatStorage, obj.key, "cpu", self.storages[obj.key].size)
        if isinstance(obj, Persistent):
            return obj.pid
        return None


def legacy_file(state: dict, storages: dict[str, np.ndarray], counts: dict | None = None) -> bytes:
    """A legacy ``.pth`` file of ``state`` (name -> :class:`Tensor` or anything picklable)
    over float32 ``storages``; ``counts`` overrides the element count written before a
    storage's bytes."""
    buf = io.BytesIO()
    with _fake_torch():
        for head in (MAGIC_NUMBER, PROTOCOL_VERSION, SYS_INFO):
            pickle.dump(head, buf, protocol=2)
        _LegacyPickler(buf, storages).dump(collections.OrderedDict(state))
        pickle.dump(list(storages), buf, protocol=2)
    for key, data in storages.items():
        buf.write(struct.pack("<q", (counts or {}).get(key, data.size)))
        buf.write(np.asarray(data, dtype="<f4").tobytes())
    return buf.getvalue()


SIX = {"s0": np.arange(6, dtype=np.float32)}


@pytest.fixture(scope="module")
def real_raw() -> bytes:
    return efficientnet.weights_path().read_bytes()


# --- the real file


def test_reads_the_real_efficientnet_weights(real_raw):
    state = read_state_dict(real_raw)
    assert len(state) == 296
    stem = state["_conv_stem.weight"]
    assert stem.shape == (32, 3, 3, 3) and stem.dtype == np.float32
    assert stem.flags.c_contiguous
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.bias"].shape == (1000,)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(np.isfinite(v).all() for v in state.values())
    # batch-norm variances are >= 0 (some channels are dead: exactly 0); a misread would not be
    variances = [v for k, v in state.items() if k.endswith("running_var")]
    assert len(variances) == 49 and all((v >= 0).all() for v in variances)
    # read by hand: a storage is its int64 element count, then its float32 values
    assert struct.pack("<q", 1000) + state["_fc.bias"].tobytes() in real_raw
    # the stem is stored with stride (1, 32, 288, 96): TF's (kh, kw, in, out) order in storage
    assert struct.pack("<q", 864) + stem.transpose(2, 3, 1, 0).tobytes() in real_raw
    assert struct.pack("<q", 864) + stem.tobytes() not in real_raw


# --- hand-written files


def test_hand_written_file_round_trips_strided_tensors():
    storages = {"s0": np.arange(6, dtype=np.float32), "s1": np.array([7.5, -1.25], np.float32)}
    state = {
        "plain": Tensor("s0", 0, (2, 3), (3, 1)),
        "transposed": Tensor("s0", 0, (3, 2), (1, 3)),
        "offset_every_other": Tensor("s0", 1, (3,), (2,)),
        "other_storage": Tensor("s1", 1, (1, 1), (1, 1)),
        "empty": Tensor("s1", 0, (0, 4), (4, 1)),
    }
    out = read_state_dict(legacy_file(state, storages))
    assert list(out) == list(state)
    grid = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(out["plain"], grid)
    np.testing.assert_array_equal(out["transposed"], grid.T)
    np.testing.assert_array_equal(out["offset_every_other"], [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(out["other_storage"], [[-1.25]])
    assert out["empty"].shape == (0, 4)
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in out.values())


def test_zero_dimensional_tensor_keeps_its_shape():
    out = read_state_dict(legacy_file({"t": Tensor("s0", 4, (), ())}, SIX))
    assert out["t"].shape == () and out["t"] == 4.0


def test_tensor_filling_its_storage_exactly_is_read():
    out = read_state_dict(legacy_file({"t": Tensor("s0", 3, (3,), (1,))}, SIX))
    np.testing.assert_array_equal(out["t"], [3.0, 4.0, 5.0])


# --- hostile files: refused, nothing run


def _reduce_file(func, arg) -> bytes:
    """A legacy file whose state dict value is ``func(arg)``, as a plain pickle would run it."""

    class Call:
        def __reduce__(self):
            return func, (arg,)

    return legacy_file({"w": Call()}, {})


def _unpickle_plainly(raw: bytes) -> None:
    """What ``torch.load`` of old did: ``pickle.load`` the five pickles."""
    f = io.BytesIO(raw)
    for _ in range(4):
        pickle.load(f)


def test_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran-os-system"
    raw = _reduce_file(os.system, f"touch {marker}")
    with pytest.raises(BundleError, match="system"):
        read_state_dict(raw)
    assert not marker.exists()
    for module in (b"os", b"nt"):  # the same call under the names other platforms write
        with pytest.raises(BundleError, match="refused"):
            read_state_dict(raw.replace(b"cposix\nsystem\n", b"c" + module + b"\nsystem\n"))
    assert not marker.exists()
    _unpickle_plainly(raw)  # the file is live: a plain unpickler runs it
    assert marker.exists()


def test_builtins_eval_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran-eval"
    raw = _reduce_file(builtins.eval, f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert b"c__builtin__\neval\n" in raw  # protocol 2 writes Python 2's module name
    with pytest.raises(BundleError, match=r"__builtin__\.eval"):
        read_state_dict(raw)
    with pytest.raises(BundleError, match=r"builtins\.eval"):
        read_state_dict(raw.replace(b"c__builtin__\neval\n", b"cbuiltins\neval\n"))
    assert not marker.exists()
    _unpickle_plainly(raw)
    assert marker.exists()


@pytest.mark.parametrize(
    "tensor",
    [
        Tensor("s0", 1, (2, 3), (3, 1)),  # contiguous, one element too far
        Tensor("s0", 0, (3, 2), (1, 4)),  # transposed with a stride one too long
        Tensor("s0", 6, (1,), (1,)),  # offset at the end
        Tensor("s0", 0, (7,), (1,)),  # longer than the storage
        Tensor("s0", 0, (2,), (-1,)),  # negative stride
        Tensor("s0", -1, (2,), (1,)),  # negative offset
    ],
    ids=["offset", "stride", "at-end", "too-long", "negative-stride", "negative-offset"],
)
def test_tensor_outside_its_storage_is_refused(tensor):
    with pytest.raises(BundleError, match=r"reaches past the end|negative offset|more elements"):
        read_state_dict(legacy_file({"t": tensor}, SIX))


@pytest.mark.parametrize("count", [5, 7, 0, -1])
def test_storage_with_wrong_length_prefix_is_refused(count):
    raw = legacy_file({"t": Tensor("s0", 0, (6,), (1,))}, SIX, counts={"s0": count})
    with pytest.raises(BundleError, match="wrong length"):
        read_state_dict(raw)


def test_file_cut_short_is_refused(real_raw):
    with pytest.raises(BundleError, match="cut short"):
        read_state_dict(real_raw[: len(real_raw) // 2])
    with pytest.raises(BundleError, match="not a readable"):  # cut inside the state dict
        read_state_dict(real_raw[:5000])
    with pytest.raises(BundleError, match="cut short"):  # the last byte missing
        read_state_dict(real_raw[:-1])


def test_trailing_bytes_are_refused(real_raw):
    with pytest.raises(BundleError, match="after its last storage"):
        read_state_dict(real_raw + b"\x00")
    small = legacy_file({"t": Tensor("s0", 0, (6,), (1,))}, SIX)
    read_state_dict(small)
    with pytest.raises(BundleError, match="after its last storage"):
        read_state_dict(small + struct.pack("<q", 0))


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # the layout of torch >= 1.6 files
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1.0}, protocol=2))
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


@pytest.mark.parametrize(
    "raw",
    [
        _zip_bytes(),
        np.random.default_rng(0).bytes(4096),
        b"",
        pickle.dumps({"w": 1.0}, protocol=2),
        pickle.dumps(MAGIC_NUMBER, protocol=2) + pickle.dumps(1000, protocol=2),
    ],
    ids=["zip", "random", "empty", "plain-pickle", "other-protocol"],
)
def test_non_legacy_file_is_refused(raw):
    with pytest.raises(BundleError):
        read_state_dict(raw)


@pytest.mark.parametrize(
    "pid",
    [
        "s0",
        ("module", "s0"),
        ("storage", "FloatStorage", "s0", "cpu"),  # too short
        ("storage", "NotAStorage", "s0", "cpu", 6),
        ("storage", "FloatStorage", 0, "cpu", 6),  # key not a string
        ("storage", "FloatStorage", "s0", "cpu", 6.0),  # size not an integer
    ],
    ids=["string", "other-kind", "short", "unknown-type", "int-key", "float-size"],
)
def test_persistent_id_that_is_not_a_storage_is_refused(pid):
    with pytest.raises(
        BundleError, match=r"persistent id that is not a storage|storage of an unknown type"
    ):
        read_state_dict(legacy_file({"t": Tensor(Persistent(pid), 0, (6,), (1,))}, SIX))


def test_storage_described_two_ways_is_refused():
    state = {
        "a": Tensor("s0", 0, (6,), (1,)),
        "b": Tensor(Persistent(("storage", FloatStorage, "s0", "cpu", 5)), 0, (5,), (1,)),
    }
    with pytest.raises(BundleError, match="two ways"):
        read_state_dict(legacy_file(state, SIX))


@pytest.mark.parametrize(
    "value",
    [1.0, "text", [Tensor("s0", 0, (6,), (1,))]],
    ids=["float", "string", "list-of-tensors"],
)
def test_value_that_is_not_a_tensor_is_refused(value):
    state = {"ok": Tensor("s0", 0, (6,), (1,)), "t": value}
    with pytest.raises(BundleError, match="other than named tensors"):
        read_state_dict(legacy_file(state, SIX))


def test_storage_listed_but_not_described_is_refused():
    # a storage in the keys list that no tensor refers to
    with pytest.raises(BundleError, match="does not describe"):
        read_state_dict(legacy_file({}, SIX))


def _with_keys(keys) -> bytes:
    """A legacy file of an empty state dict whose storage-keys pickle is ``keys``."""
    heads = (MAGIC_NUMBER, PROTOCOL_VERSION, SYS_INFO, collections.OrderedDict(), keys)
    return b"".join(pickle.dumps(h, protocol=2) for h in heads)


def test_keys_that_are_not_a_list_are_refused():
    with pytest.raises(BundleError, match="state dict"):
        read_state_dict(_with_keys(5))
    with pytest.raises(BundleError, match="does not describe"):
        read_state_dict(_with_keys(["s0"]))
    read_state_dict(_with_keys([]))  # the well-formed empty file


def test_unhashable_storage_key_is_refused():
    with pytest.raises(BundleError):
        read_state_dict(_with_keys([["s0"]]))


def test_broadcast_tensor_too_big_for_memory_is_refused():
    tensor = Tensor("s0", 0, (2**20,) * 8, (0,) * 8)
    with pytest.raises(BundleError, match="more elements"):
        read_state_dict(legacy_file({"t": tensor}, SIX))
    # a few hundred bytes that would otherwise allocate 8 GiB: 2**31 copies of one element
    with pytest.raises(BundleError, match="more elements"):
        read_state_dict(legacy_file({"t": Tensor("s0", 0, (2**31,), (0,))}, SIX))
