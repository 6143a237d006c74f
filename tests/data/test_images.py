"""The image reader on real hostile, odd and good files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from finml.data import duplicates, images
from finml.errors import DataError
from tests import hostile_images as h


def _set(extra: dict[str, bytes]) -> dict[str, bytes]:
    return {**h.class_folders(6), **extra}


def test_a_good_zip_reads_with_folder_labels():
    out = images.read_zip(h.zip_of(h.class_folders(6)), size=32, mode="L")
    assert out.images.shape == (12, 32, 32, 1) and out.images.dtype == np.uint8
    assert out.class_counts() == {"no": 6, "yes": 6}
    assert not out.skipped


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        ("yes/bomb.png", h.bomb_png(), "decompression bomb"),
        ("yes/cut.jpg", h.truncated_jpeg(), "truncated, corrupt"),
        ("yes/notes.png", b"these are my notes, not an image\n" * 20, "not a PNG or JPEG"),
        ("yes/empty.dcm", h.dicom_bytes(pixels=False), "without pixel data"),
    ],
)
def test_bad_files_are_skipped_by_name_with_a_reason(name, content, phrase):
    out = images.read_zip(h.zip_of(_set({name: content})), size=32)
    assert len(out.images) == 12
    assert [(n, phrase in why) for n, why in out.skipped] == [(name, True)]


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (h.zip_of({**h.class_folders(2), "../../etc/evil.png": h.png(h.pattern(1))}), "zip-slip"),
        (h.zip_of({**h.class_folders(2), "/abs/evil.png": h.png(h.pattern(1))}), "zip-slip"),
        (h.zip_declaring(3 << 30), "declares"),
        (h.zip_of({**h.class_folders(2), "yes/inner.zip": h.zip_of({"a.png": b"x"})}), "nested"),
        (h.zip_of({}), "is empty"),
        (b"PK\x03\x04 not really a zip", "not a valid ZIP"),
        (h.zip_of({f"yes/{i}.png": h.png(h.pattern(i)) for i in range(5)}), "two classes"),
        (h.zip_of({"readme.txt": b"hello"}), "No usable image"),
    ],
)
def test_hostile_archives_are_refused_with_a_message(data, phrase):
    with pytest.raises(DataError, match=phrase):
        images.read_zip(data, size=32)


def test_nothing_is_written_to_disk_while_reading(tmp_path, monkeypatch):
    work = tmp_path / "cwd"  # beside the test's data folder, which starts with a store
    work.mkdir()
    monkeypatch.chdir(work)
    images.read_zip(h.zip_of(h.class_folders(3)))
    assert list(work.iterdir()) == []


def test_mixed_modes_become_one_mode():
    grey = h.pattern(1)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 128)])
    palette = Image.fromarray(np.stack([grey] * 3, -1)).convert("P")
    buf = __import__("io").BytesIO()
    palette.save(buf, format="PNG")
    files = {
        "no/l.png": h.png(grey),
        "no/rgba.png": h.png(rgba),
        "yes/p.png": buf.getvalue(),
        "yes/rgb.jpg": h.jpeg(np.stack([grey] * 3, -1)),
        "yes/i16.png": h.png(grey.astype(np.uint16) * 256),
    }
    for mode, channels in (("L", 1), ("RGB", 3)):
        out = images.read_files(list(files.items()), size=24, mode=mode)
        assert out.images.shape == (5, 24, 24, channels)
        assert sorted(set(out.modes)) == ["I;16", "L", "P", "RGB", "RGBA"]


def test_dicom_modality_and_voi_lut_monochrome1_and_frames():
    plain = images.decode_image(h.dicom_bytes(), "a.dcm", 32, "L")[0][:, :, 0]
    inverted = images.decode_image(h.dicom_bytes(monochrome1=True), "b.dcm", 32, "L")[0][:, :, 0]
    # window -400 +- 400 HU after the -1024 intercept: raw 0..1240 -> HU -1024..216, so the
    # left columns (below -800 HU) are black, the right ones (above 0 HU) white
    assert plain[:, 0].max() == 0 and plain[:, -1].min() == 255
    np.testing.assert_array_equal(inverted, 255 - plain)
    _, _, mode, note = images.decode_image(h.dicom_bytes(frames=3), "c.dcm", 32, "L")
    assert "frame 2" in note and "3 frames" in note and mode == "DICOM MONOCHROME2"


def test_patient_ids_are_kept_only_as_a_keyed_hash(data_dir, monkeypatch):
    import hashlib
    import hmac
    import stat

    from finml.config import secret_key

    files = [
        ("labels.csv", b"filename,label,patient_id\na.dcm,yes,PAT-0042\nb.png,no,PAT-7\n"),
        ("a.dcm", h.dicom_bytes()),
        ("b.png", h.png(h.pattern(2))),
    ]
    out = images.read_files(files, size=16)
    assert out.groups.tolist() == [images.patient_key("PAT-0042"), images.patient_key("PAT-7")]
    blob = repr(out.__dict__).encode()
    assert b"PAT-0042" not in blob and b"Doe" not in blob
    # the key: generated once, private, outside the run store and the repository
    key_file = data_dir / "secrets" / "finml.key"
    assert len(key_file.read_bytes()) == 32 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    expected = hmac.new(key_file.read_bytes(), b"PAT-0042", hashlib.sha256).hexdigest()[:16]
    assert out.groups[0] == expected
    # the old public salt no longer reverses it: a dictionary of IDs finds nothing
    guesses = {
        hashlib.sha256(b"finml-patient-v1" + f"PAT-{i:04d}".encode()).hexdigest()[:16]
        for i in range(10_000)
    }
    assert out.groups[0] not in guesses
    # another installation (another key) hashes the same patient differently
    monkeypatch.setenv("FINML_SECRET_KEY", "ab" * 32)
    assert images.patient_key("PAT-0042") != out.groups[0]
    assert secret_key() == bytes.fromhex("ab" * 32)
    monkeypatch.setenv("FINML_SECRET_KEY", "not hex")
    with pytest.raises(ValueError, match="64 hex characters"):
        secret_key()


def test_labels_csv_and_unlabeled_files():
    files = [
        ("labels.csv", b"filename,label\na.png,yes\n"),
        ("a.png", h.png(h.pattern(1))),
        ("b.png", h.png(h.pattern(2))),
    ]
    with pytest.raises(DataError, match="two classes"):
        images.read_files(files, size=16)
    with pytest.raises(DataError, match="header filename,label"):
        images.read_files([("labels.csv", b"file;class\n")], size=16)
    with pytest.raises(DataError, match="not in a class folder"):
        images.read_files([("loose.png", h.png(h.pattern(1)))], size=16)


def test_pydicom_sample_files_read():
    from pydicom.data import get_testdata_file

    for name in ("CT_small.dcm", "MR_small.dcm", "examples_rgb_color.dcm"):
        with open(get_testdata_file(name), "rb") as f:
            data = f.read()
        arr, _, _, _ = images.decode_image(data, name, 32, "RGB")
        assert arr.shape == (32, 32, 3) and arr.std() > 0


def test_near_duplicates_are_grouped():
    base = [h.pattern(i, 64, bright=i % 2 == 0) for i in range(6)]
    twin = np.clip(base[0].astype(int) + 2, 0, 255).astype(np.uint8)  # a near-identical twin
    stack = np.stack([*base, twin])[..., None]
    groups = duplicates.near_duplicate_groups(duplicates.perceptual_hashes(stack), max_distance=4)
    assert groups[0] == groups[6]
    assert len(set(groups.tolist())) == 6
