"""Real hostile and odd image files, made byte by byte for the tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def pattern(seed: int, size: int = 48, bright: bool = False) -> np.ndarray:
    """A greyscale test image: noise plus, for the 'bright' class, a bright disc."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 90, (size, size)).astype(np.uint8)
    if bright:
        yy, xx = np.mgrid[:size, :size]
        cx, cy = rng.integers(size // 4, 3 * size // 4, 2)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < (size // 5) ** 2] = 230
    return img


def bomb_png(side: int = 20_000) -> bytes:
    """A valid PNG header declaring side x side pixels (400 MP) with a tiny compressed body:
    a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * (side + 1) * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = jpeg(np.stack([pattern(1, 64)] * 3, axis=-1))
    return data[: len(data) // 2]


def members_of(data: bytes) -> dict[str, bytes]:
    """The members of a ZIP, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def zip_of(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def zip_declaring(size: int) -> bytes:
    """A ZIP whose one member declares ``size`` uncompressed bytes (header edited)."""
    data = bytearray(zip_of({"yes/a.png": png(pattern(1))}))
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, size & 0xFFFFFFFF)  # central directory: file_size
    return bytes(data)


def class_folders(n_per_class: int = 12, size: int = 48) -> dict[str, bytes]:
    """A two-class set (bright disc yes / no) as {folder/name.png: bytes}."""
    out = {}
    for i in range(n_per_class):
        out[f"scans/yes/y{i}.png"] = png(pattern(i, size, bright=True))
        out[f"scans/no/n{i}.png"] = png(pattern(1000 + i, size))
    return out


def dicom_bytes(pixels: bool = True, monochrome1: bool = False, frames: int = 1) -> bytes:
    """A small CT DICOM with rescale slope/intercept and a window, made with pydicom."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\x00" * 128)
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PAT-0042"
    ds.Modality = "CT"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    if pixels:
        arr = np.tile(np.arange(32, dtype=np.uint16) * 40, (32, 1))
        if frames > 1:
            arr = np.stack([arr + 100 * k for k in range(frames)])
            ds.NumberOfFrames = frames
        ds.Rows, ds.Columns = 32, 32
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = -400, 800
        ds.PixelData = arr.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
