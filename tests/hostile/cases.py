"""The hostile inputs, one :class:`Case` each: what it is, how to build it, and what finml
must answer (the words of its message, or of the reason a file was skipped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tests import hostile_images as h
from tests.badfiles import BAD_FILES
from tests.hostile import builders as b

REFUSED, SKIPPED, READ = "refused", "skipped", "read"


@dataclass(frozen=True)
class Case:
    """One hostile input.

    Attributes:
        id: short name (the test id).
        kind: ``"table"`` (the table reader), ``"zip"`` (an image archive), ``"files"``
            (loose image files), ``"import"`` (a run import), ``"predict"`` (new rows for a
            table model), ``"target"`` (a target choice on a table).
        build: makes the input: bytes, or [(name, bytes)] for loose files.
        expect: words the error message or the skip reason must contain ("" for none).
        outcome: :data:`REFUSED` (an error with ``expect``), :data:`SKIPPED` (read, with a
            file skipped for ``expect``) or :data:`READ` (read without complaint).
        filename: the client's file name (tables, archives, imports).
        options: keyword arguments of the reader (a size, a target column, ...).
    """

    id: str
    kind: str
    build: Callable[[], object]
    expect: str
    outcome: str = REFUSED
    filename: str = "upload.csv"
    options: tuple = ()


def _png(seed=1):
    return h.png(h.pattern(seed))


def _dicom_files(data: bytes, name: str = "scan.dcm"):
    """A hostile DICOM among good images of two classes (so the rest still reads)."""
    return [
        *[(f"yes/y{i}.png", _png(i)) for i in range(3)],
        ("no/n.png", _png(9)),
        (f"no/{name}", data),
    ]


def _image_files(bad: bytes, name: str):
    return [
        *[(f"yes/y{i}.png", _png(i)) for i in range(3)],
        ("no/n.png", _png(9)),
        (f"no/{name}", bad),
    ]


TABLES = [
    Case(f"bad file: {k}", "table", (lambda d=d: d), phrase, filename=f)
    for k, (f, d, phrase) in sorted(BAD_FILES.items())
] + [
    Case("100k columns", "table", lambda: b.csv_with_columns(100_000), "the limit is 10,000"),
    Case("1M columns, 12 MB", "table", lambda: b.csv_with_columns(1_000_000), "1,000,000 columns"),
    Case(
        "5,000 columns all named alike",
        "table",
        lambda: b.csv_with_columns(5_000, lambda i: "a"),
        "columns 1, 2, 3, 4, 5 and 4,995 more",
    ),
    Case(
        "a 100 KB column name, twice",
        "table",
        lambda: b.csv_with_columns(2, lambda i: "n" * 100_000),
        "duplicate column names: 'nnnn",
    ),
    Case("a 200 KB field", "table", b.long_field_csv, "longer than 131,072 characters"),
    Case("a NUL byte in a field", "table", lambda: b"a,b\n1,x\x00y\n2,z\n", "binary file"),
    Case("only delimiters", "table", lambda: b",,,\n,,,\n", "have no name"),
    Case("gzip named .csv", "table", lambda: b"\x1f\x8b\x08" + b"\x00" * 40, "gzip archive"),
    Case("pickle named .csv", "table", lambda: b"\x80\x04\x95" + b"\x00" * 40, "Python pickle"),
    Case("PDF named .csv", "table", lambda: b"%PDF-1.7\n" + b"\x00" * 40, "PDF document"),
    Case(
        "a workbook cell of 300 MB (312 KB uploaded)",
        "table",
        b.workbook_bomb,
        "inflates to 300 MiB",
        filename="cells.xlsx",
    ),
    Case(
        "a workbook with 10,001 columns",
        "table",
        lambda: b.workbook([[f"c{i}" for i in range(10_001)], list(range(10_001))]),
        "10,001 columns; the limit is 10,000",
        filename="wide.xlsx",
    ),
    Case(
        "a workbook that is a damaged archive",
        "table",
        lambda: b"PK\x03\x04" + b"\x00" * 200,
        "not a readable Excel workbook",
        filename="broken.xlsx",
    ),
    Case(
        "Parquet with 10,001 columns",
        "table",
        lambda: b.wide_parquet(10_001),
        "10,001 columns",
        filename="wide.parquet",
    ),
    Case(
        "Parquet declaring more rows than allowed",
        "table",
        lambda: b.parquet({"a": np.arange(50), "b": np.arange(50)}),
        "50 rows; the limit is 10",
        filename="long.parquet",
        options=(("max_rows", 10),),
    ),
    Case(
        "Parquet with a garbled footer",
        "table",
        b.damaged_parquet,
        "could not be read as Parquet",
        filename="bad.parquet",
    ),
    *[
        Case(
            f"Parquet with a {kind} column",
            "table",
            (lambda kind=kind: b.nested_parquet(kind)),
            "",
            READ,
            filename=f"{kind}.parquet",
        )
        for kind in ("list", "struct", "map")
    ],
    Case(
        "inf and 1e999 cells",
        "table",
        lambda: b"a,b,t\n1e999,x,bad\n-inf,y,good\n2,z,good\n",
        "",
        READ,
    ),
    Case(
        "formulas as column names and cells",
        "table",
        lambda: b'=HYPERLINK("http://127.0.0.1:1"),@SUM(A1),t\n=1+1, =cmd,good\n2,3,bad\n',
        "",
        READ,
    ),
    Case(
        "Markdown and HTML as names and values",
        "table",
        lambda: (
            ",".join(f'"{p}"' for p in b.PAYLOADS).encode()
            + b"\n"
            + ",".join(f'"{p}"' for p in b.PAYLOADS).encode()
            + b"\n"
        ),
        "",
        READ,
    ),
]

TARGETS = [
    Case(
        "an all-empty target column", "target", lambda: b"x,t\n1,\n2,\n3,\n", "is empty (every cell"
    ),
    Case(
        "a target with one value",
        "target",
        lambda: ("x,t\n" + "".join(f"{i},good\n" for i in range(30))).encode(),
        "single value",
    ),
    Case(
        "a class with 5 rows",
        "target",
        lambda: (
            "x,t\n" + "".join(f"{i},{'bad' if i < 5 else 'good'}\n" for i in range(40))
        ).encode(),
        "has only 5 rows",
    ),
    Case(
        "a target missing on rows",
        "target",
        lambda: (
            "x,t\n"
            + "".join(f"{i},{'' if i < 3 else 'good' if i % 2 else 'bad'}\n" for i in range(40))
        ).encode(),
        "missing on 3 rows",
    ),
]

IMAGES = [
    Case(
        "a PNG with a 2 MiB zTXt chunk",
        "files",
        lambda: _image_files(b.png_ztxt_bomb(), "text.png"),
        "hostile (Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK)",
        SKIPPED,
    ),
    Case(
        "a PNG decompression bomb",
        "files",
        lambda: _image_files(h.bomb_png(), "bomb.png"),
        "decompression bomb",
        SKIPPED,
    ),
    Case(
        "a truncated JPEG",
        "files",
        lambda: _image_files(h.truncated_jpeg(), "cut.jpg"),
        "truncated, corrupt or hostile (image file is truncated",
        SKIPPED,
    ),
    Case(
        "a PNG with a broken CRC",
        "files",
        lambda: _image_files(b.png_bad_crc(), "crc.png"),
        "",
        SKIPPED,
    ),
    Case(
        "a JPEG claiming 60,000 x 60,000 pixels",
        "files",
        lambda: _image_files(b.jpeg_claiming(60_000, 60_000), "huge.jpg"),
        "refused as a decompression bomb (Image size (3600000000 pixels)",
        SKIPPED,
    ),
    Case(
        "a GIF named .png",
        "files",
        lambda: _image_files(b.gif(), "anim.png"),
        "not a PNG or JPEG",
        SKIPPED,
    ),
    Case(
        "an SVG with a script named .png",
        "files",
        lambda: _image_files(b'<svg onload="alert(1)"></svg>', "x.png"),
        "not a PNG or JPEG",
        SKIPPED,
    ),
    Case(
        "an empty .png",
        "files",
        lambda: _image_files(b"", "empty.png"),
        "not a PNG or JPEG",
        SKIPPED,
    ),
    Case(
        "text named .jpg",
        "files",
        lambda: _image_files(b"hello", "t.jpg"),
        "not a PNG or JPEG",
        SKIPPED,
    ),
    Case("a 16-bit PNG", "files", lambda: _image_files(b.png_16bit(), "deep.png"), "", READ),
    Case(
        "a palette PNG with transparency",
        "files",
        lambda: _image_files(b.png_palette_alpha(), "pal.png"),
        "",
        READ,
    ),
    Case("a CMYK JPEG", "files", lambda: _image_files(b.jpeg_cmyk(), "cmyk.jpg"), "", READ),
    Case(
        "a file outside any class folder",
        "files",
        lambda: [("loose.png", _png(1)), ("yes/a.png", _png(2))],
        "not in a class folder",
    ),
    Case(
        "a labels CSV that is not UTF-8",
        "files",
        lambda: [("labels.csv", "filename,label\na.png,jä\n".encode("latin-1")), ("a.png", _png())],
        "not UTF-8",
    ),
    Case(
        "a labels CSV with the wrong header",
        "files",
        lambda: [("labels.csv", b"file,class\na.png,yes\n"), ("a.png", _png())],
        "needs the header filename,label",
    ),
    Case(
        "a labels CSV row without a label",
        "files",
        lambda: [("labels.csv", b"filename,label\na.png,\n"), ("a.png", _png())],
        "a file name and a label are needed",
    ),
    Case(
        "labels of Markdown and HTML",
        "files",
        lambda: [
            (
                "labels.csv",
                (
                    "filename,label\n"
                    + "".join(f'{i}.png,"{p}"\n' for i, p in enumerate(b.PAYLOADS))
                ).encode(),
            ),
            *[(f"{i}.png", _png(i)) for i in range(len(b.PAYLOADS))],
        ],
        "",
        READ,
    ),
]

DICOMS = [
    Case(
        "DICOM without pixel data",
        "files",
        lambda: _dicom_files(h.dicom_bytes(pixels=False)),
        "without pixel data",
        SKIPPED,
    ),
    Case(
        "DICOM declaring 60,000 x 60,000 pixels",
        "files",
        lambda: _dicom_files(b.dicom(Rows=60_000, Columns=60_000)),
        "refused: 60000 x 60000 pixels",
        SKIPPED,
    ),
    Case(
        "DICOM declaring a million frames",
        "files",
        lambda: _dicom_files(b.dicom(NumberOfFrames=1_000_000)),
        "pixel data cannot be decoded",
        SKIPPED,
    ),
    Case(
        "DICOM with truncated pixel data",
        "files",
        lambda: _dicom_files(b.dicom(PixelData=b"\x00\x01" * 100)),
        "pixel data cannot be decoded",
        SKIPPED,
    ),
    Case(
        "DICOM with 4 samples per pixel",
        "files",
        lambda: _dicom_files(b.dicom(SamplesPerPixel=4)),
        "4 sample(s) per pixel",
        SKIPPED,
    ),
    Case(
        "DICOM with an unknown transfer syntax",
        "files",
        lambda: _dicom_files(b.dicom(TransferSyntaxUID="1.2.3.4.5.6")),
        "",
        SKIPPED,
    ),
    Case(
        "DICOM magic then garbage",
        "files",
        lambda: _dicom_files(b.dicom_garbage()),
        "without pixel data",
        SKIPPED,
    ),
    Case(
        "DICOM with zero rows",
        "files",
        lambda: _dicom_files(b.dicom(Rows=0)),
        "refused: 32 x 0 pixels",
        SKIPPED,
    ),
    Case(
        "DICOM with a garbled window",
        "files",
        lambda: _dicom_files(b.dicom(WindowWidth=0, WindowCenter=-(10**9))),
        "its window / VOI LUT is invalid",
        READ,
    ),
    Case(
        "DICOM MONOCHROME1",
        "files",
        lambda: _dicom_files(h.dicom_bytes(monochrome1=True)),
        "",
        READ,
    ),
    Case("DICOM with 3 frames", "files", lambda: _dicom_files(h.dicom_bytes(frames=3)), "", READ),
    Case(
        "a PNG named .dcm",
        "files",
        lambda: _dicom_files(_png(3), "fake.dcm"),
        "not a readable DICOM",
        SKIPPED,
    ),
]

ZIP_SET = h.class_folders(12)
ARCHIVES = [
    Case(
        "a member with a bad CRC",
        "zip",
        lambda: b.zip_bad_crc(ZIP_SET, "scans/yes/y3.png"),
        "damaged inside the archive",
        SKIPPED,
        filename="scans.zip",
    ),
    Case(
        "a member declaring fewer bytes than it holds",
        "zip",
        lambda: b.zip_lying_size(ZIP_SET, "scans/yes/y4.png", -40),
        "damaged inside the archive",
        SKIPPED,
        filename="scans.zip",
    ),
    Case(
        "a member declaring more bytes than it holds",
        "zip",
        lambda: b.zip_lying_size(ZIP_SET, "scans/no/n5.png", 4000),
        "damaged inside the archive",
        SKIPPED,
        filename="scans.zip",
    ),
    Case(
        "24 members of 60 MiB of zeros (a 1.5 MB archive)",
        "zip",
        lambda: b.zeros_member_zip(24, 60),
        "like a zip bomb",
        REFUSED,  # every usable image of class "yes" is gone: one class is left
        filename="bomb.zip",
    ),
    Case(
        "one bomb member among good images",
        "zip",
        lambda: b.deflated_class_zip({"scans/yes/bomb.png": bytes(8 * b.MIB)}),
        "like a zip bomb",
        SKIPPED,
        filename="scans.zip",
    ),
    *(
        Case(
            f"zip-slip member {member}",
            "zip",
            lambda member=member: b.class_zip({member: _png()}),
            "zip-slip",
            filename="scans.zip",
        )
        for member in ("../evil.png", "/etc/evil.png")
    ),
    Case(
        "a nested archive",
        "zip",
        lambda: b.class_zip({"scans/yes/inner.zip": h.zip_of({"a.png": _png()})}),
        "nested archives",
        filename="scans.zip",
    ),
    Case(
        "20,001 members",
        "zip",
        lambda: b.many_members_zip(20_001),
        "20,001 files; the limit",
        filename="many.zip",
    ),
    Case(
        "declaring 3 GiB",
        "zip",
        lambda: h.zip_declaring(3 << 30),
        "declares 3.0 GiB",
        filename="big.zip",
    ),
    Case("an empty archive", "zip", lambda: h.zip_of({}), "is empty", filename="empty.zip"),
    Case("not a ZIP", "zip", lambda: b"just text", "not a valid ZIP archive", filename="text.zip"),
    Case(
        "one class only",
        "zip",
        lambda: h.zip_of({f"yes/{i}.png": _png(i) for i in range(5)}),
        "two classes",
        filename="one.zip",
    ),
    Case(
        "15,000 images too big to hold at 224 px RGB",
        "zip",
        lambda: b.tiny_images_zip(15_000),
        "would take 2.1 GiB of memory",
        filename="many.zip",
        options=(("size", 224), ("mode", "RGB")),
    ),
    Case(
        "macOS metadata members",
        "zip",
        lambda: b.class_zip({"__MACOSX/scans/._y1.png": b"junk", "scans/.DS_Store": b"junk"}),
        "",
        READ,
        filename="mac.zip",
    ),
]

PREDICT = [
    Case(
        "new rows lack a column",
        "predict",
        lambda: "drop:purpose",
        "lacks 1 column(s) the model needs: 'purpose'",
    ),
    Case(
        "inf in new rows",
        "predict",
        lambda: "set:credit_amount=inf",
        "are infinite (set missing)",
        READ,
    ),
    Case(
        "1e999 in new rows",
        "predict",
        lambda: "set:credit_amount=1e999",
        "are infinite (set missing)",
        READ,
    ),
    Case(
        "text in a number column",
        "predict",
        lambda: "set:duration_in_month=twelve",
        "are not numbers",
        READ,
    ),
    Case(
        "unseen categories of Markdown",
        "predict",
        lambda: f"set:purpose={b.PAYLOADS[0]}",
        "categories unseen in training",
        READ,
    ),
    Case("all cells empty", "predict", lambda: "blank", "", READ),
    Case("formula columns", "predict", lambda: "extra:=cmd|' /C calc'!A0", "Extra column(s)", READ),
    Case("10,001 more columns", "predict", lambda: "wide", "columns; the limit is 10,000"),
]


def all_cases() -> list[Case]:
    """Every hostile input of the suite, imports excepted (:mod:`tests.hostile.test_imports`)."""
    return [*TABLES, *TARGETS, *IMAGES, *DICOMS, *ARCHIVES, *PREDICT]
