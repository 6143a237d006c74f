"""Builders of hostile and malformed files, byte by byte: tables, workbooks, Parquet,
images, DICOM, ZIP archives. Nothing here is read from disk or downloaded."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

import numpy as np

from tests import hostile_images as h

MIB = 1 << 20
#: Markdown and HTML that must never render as a link, an image or markup.
PAYLOADS = (
    "![x](http://127.0.0.1:1/p.png)",
    "[x](http://127.0.0.1:1/a)",
    "**b**",
    "<img src=x onerror=alert(1)>",
)


#: A table whose column names, values and target classes are all :data:`PAYLOADS`.
PAYLOAD_CSV = (
    ",".join(['"amount"', f'"{PAYLOADS[0]}"', f'"{PAYLOADS[3]}"', '"t"'])
    + "\n"
    + "".join(
        f'{i},"{PAYLOADS[i % 2]}","{PAYLOADS[2 + i % 2]}",'
        f'"{PAYLOADS[1] if i % 3 == 0 else PAYLOADS[2]}"\n'
        for i in range(90)
    )
).encode()


# -- tables ---------------------------------------------------------------------------------
def csv_with_columns(n: int, name=lambda i: f"c{i}") -> bytes:
    header = ",".join(name(i) for i in range(n))
    row = ",".join("1" for _ in range(n))
    return f"{header}\n{row}\n{row}\n".encode()


def csv(text: str) -> bytes:
    return text.encode()


def long_field_csv() -> bytes:
    return b"a,b\n1," + b"x" * 200_000 + b"\n2,y\n"


def workbook(cells: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in cells:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def workbook_bomb(cell_mib: int = 300) -> bytes:
    """A valid small workbook whose sheet part inflates to ``cell_mib`` MiB (one cell of a
    repeated letter): a few hundred KB uploaded."""
    base = workbook([["a", "b"], [1, 2]])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item.filename))
                continue
            with dst.open(
                zipfile.ZipInfo(item.filename), "w", force_zip64=True
            ) as fh:  # streamed: the test never holds the inflated cell
                fh.write(b'<worksheet><sheetData><row><c t="inlineStr"><is><t>')
                chunk = b"a" * MIB
                for _ in range(cell_mib):
                    fh.write(chunk)
                fh.write(b"</t></is></c></row></sheetData></worksheet>")
    return deflated(out.getvalue())


def deflated(data: bytes, replace=None) -> bytes:
    """The same archive with every member deflated (ZipInfo written members are stored);
    a member named in ``replace`` is written instead by its callable, given the open member
    (streamed, so a test never holds a huge member in memory)."""
    replace = replace or {}
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            with src.open(item) as fin, dst.open(item.filename, "w", force_zip64=True) as fout:
                if item.filename in replace:
                    replace[item.filename](fout)
                    continue
                while chunk := fin.read(MIB):
                    fout.write(chunk)
    return out.getvalue()


def parquet(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def nested_parquet(kind: str) -> bytes:
    """A table with a list, struct or map column beside ordinary ones."""
    import pyarrow as pa

    n = 40
    values = {
        "list": pa.array([[i, i + 1] for i in range(n)]),
        "struct": pa.array([{"a": i, "b": str(i)} for i in range(n)]),
        "map": pa.array([[("k", i)] for i in range(n)], type=pa.map_(pa.string(), pa.int64())),
    }[kind]
    return parquet(
        {
            "amount": pa.array(np.arange(n, dtype=float)),
            "nested": values,
            "target": pa.array(["bad" if i % 3 == 0 else "good" for i in range(n)]),
        }
    )


def wide_parquet(n: int) -> bytes:
    import pyarrow as pa

    return parquet({f"c{i}": pa.array([1, 2]) for i in range(n)})


def damaged_parquet() -> bytes:
    data = bytearray(parquet({"a": [1, 2, 3], "b": [4, 5, 6]}))
    data[-12:-4] = b"\xff" * 8  # the footer length and metadata, garbled
    return bytes(data)


# -- images ---------------------------------------------------------------------------------
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_chunk(kind: bytes, body: bytes) -> bytes:
    """A valid PNG with one more chunk before IEND."""
    data = h.png(h.pattern(1))
    end = data.rindex(b"IEND") - 4
    return data[:end] + _chunk(kind, body) + data[end:]


def png_ztxt_bomb(mib: int = 2) -> bytes:
    """A PNG whose zTXt text inflates to ``mib`` MiB (Pillow's limit is 1 MiB)."""
    return png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * (mib * MIB)))


def png_bad_crc() -> bytes:
    data = bytearray(h.png(h.pattern(2)))
    i = data.index(b"IDAT")
    data[i + 8] ^= 0xFF  # a byte of the compressed pixels: the chunk's CRC no longer matches
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG whose frame header claims ``width`` x ``height`` pixels."""
    data = bytearray(h.jpeg(np.stack([h.pattern(3, 32)] * 3, axis=-1)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(h.pattern(4)).save(buf, format="GIF")
    return buf.getvalue()


def png_16bit() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(h.pattern(5).astype(np.uint16) * 200).save(buf, format="PNG")
    return buf.getvalue()


def png_palette_alpha() -> bytes:
    from PIL import Image

    im = Image.fromarray(h.pattern(6)).convert("P")
    im.info["transparency"] = 0
    buf = io.BytesIO()
    im.save(buf, format="PNG", transparency=0)
    return buf.getvalue()


def jpeg_cmyk() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.stack([h.pattern(7)] * 3, axis=-1)).convert("CMYK").save(buf, "JPEG")
    return buf.getvalue()


# -- DICOM ----------------------------------------------------------------------------------
def dicom(**changes) -> bytes:
    """The test CT DICOM of :func:`tests.hostile_images.dicom_bytes` with data elements
    changed (``None`` deletes one); the pixel data is written as given."""
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(h.dicom_bytes()))
    for key, value in changes.items():
        if key == "TransferSyntaxUID":
            ds.file_meta.TransferSyntaxUID = value
        elif value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    return buf.getvalue()


def dicom_garbage() -> bytes:
    return b"\x00" * 128 + b"DICM" + b"\xde\xad\xbe\xef" * 64


# -- archives -------------------------------------------------------------------------------
def stored_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _member_data_offset(data: bytes, name: str) -> tuple[int, zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    start = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", data, start + 26)
    return start + 30 + name_len + extra_len, info


def zip_bad_crc(entries: dict[str, bytes], victim: str) -> bytes:
    """Stored members; one byte of ``victim``'s data flipped (its CRC no longer matches)."""
    data = bytearray(stored_zip(entries))
    offset, _ = _member_data_offset(bytes(data), victim)
    data[offset + 20] ^= 0xFF
    return bytes(data)


def zip_lying_size(entries: dict[str, bytes], victim: str, delta: int) -> bytes:
    """``victim`` declares ``delta`` bytes more (or less) than it holds, in both headers."""
    data = bytearray(stored_zip(entries))
    _, info = _member_data_offset(bytes(data), victim)
    size = info.file_size + delta
    for at in (info.header_offset + 18, info.header_offset + 22):  # local: csize, size
        struct.pack_into("<I", data, at, size)
    cd = data.find(b"PK\x01\x02")
    while cd != -1:
        name_len = struct.unpack_from("<H", data, cd + 28)[0]
        if data[cd + 46 : cd + 46 + name_len] == victim.encode():
            struct.pack_into("<II", data, cd + 20, size, size)
            break
        cd = data.find(b"PK\x01\x02", cd + 4)
    return bytes(data)


@functools.cache
def zeros_member_zip(members: int, mib: int) -> bytes:
    """``members`` members of ``mib`` MiB of zeros each, deflated (about 1000 times)."""
    buf = io.BytesIO()
    zero = bytes(MIB)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("no/ok.png", h.png(h.pattern(1)))
        for i in range(members):
            with zf.open(f"yes/bomb{i}.png", "w", force_zip64=True) as fh:
                for _ in range(mib):
                    fh.write(zero)
    return buf.getvalue()


def many_members_zip(n: int) -> bytes:
    return stored_zip({f"yes/{i}.png": b"" for i in range(n)})


def tiny_images_zip(n: int) -> bytes:
    """``n`` real 2x2 PNGs in two class folders (the same bytes each: a small archive)."""
    tiny = h.png(np.zeros((2, 2), dtype=np.uint8))
    return stored_zip({f"{'yes' if i % 2 else 'no'}/{i}.png": tiny for i in range(n)})


def class_zip(extra: dict[str, bytes] | None = None, per_class: int = 12) -> bytes:
    return h.zip_of({**h.class_folders(per_class), **(extra or {})})


def deflated_class_zip(extra: dict[str, bytes], per_class: int = 12) -> bytes:
    """Class folders plus ``extra``, every member deflated (as archivers do)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {**h.class_folders(per_class), **extra}.items():
            zf.writestr(name, data)
    return buf.getvalue()
