"""Near-duplicate images: perceptual hashes, groups of images within a Hamming distance,
and the split group of each image (its patient where known, else its near-duplicate
group), so no twin lands on two sides of a split."""

from __future__ import annotations

import numpy as np

from finml.data.images import ImageSet, Progress, no_progress


def perceptual_hashes(images: np.ndarray, progress: Progress = no_progress) -> np.ndarray:
    """64-bit perceptual hash (``imagehash.phash``, DCT of a 32x32 greyscale) of each image.

    Args:
        images: uint8 array of shape (n, h, w, channels).
        progress: called with (images done, images in all), every 100 images.

    Returns:
        uint64 array of shape (n,).
    """
    import imagehash
    from PIL import Image

    out = np.empty(len(images), dtype=np.uint64)
    for i, img in enumerate(images):
        if i % 100 == 0:
            progress(i, len(images))
        pil = Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img)
        bits = imagehash.phash(pil).hash.flatten()
        out[i] = np.uint64(int("".join("1" if b else "0" for b in bits), 2))
    progress(len(images), len(images))
    return out


def near_duplicate_groups(hashes: np.ndarray, max_distance: int = 6) -> np.ndarray:
    """Group images whose perceptual hashes differ in at most ``max_distance`` of 64 bits
    (connected components of that relation, by union-find).

    Args:
        hashes: uint64 array of shape (n,) from :func:`perceptual_hashes`.
        max_distance: largest Hamming distance that counts as a near-duplicate.

    Returns:
        int64 array of shape (n,): a group id per image (0..k-1, singletons included).
    """
    n = len(hashes)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n - 1):
        dist = np.bitwise_count(np.bitwise_xor(hashes[i + 1 :], hashes[i]))
        for j in np.flatnonzero(dist <= max_distance) + i + 1:
            a, b = find(i), find(int(j))
            if a != b:
                parent[b] = a
    roots = np.array([find(i) for i in range(n)])
    _, ids = np.unique(roots, return_inverse=True)
    return ids.astype(np.int64)


def split_groups(image_set: ImageSet, dup_groups: np.ndarray) -> np.ndarray:
    """The split group of each image: its patient key where the upload gave one, else its
    near-duplicate group (``"dup-<id>"``), so no patient or near-duplicate group lands on
    two sides of a group-aware split.

    Returns:
        str array of shape (n,).
    """
    return np.where(
        image_set.groups != "", image_set.groups, np.char.add("dup-", dup_groups.astype(str))
    )


def duplicate_summary(dup_groups: np.ndarray, labels: np.ndarray) -> dict[str, int]:
    """Counts for the dataset report: near-duplicate groups of 2+ images, images in them, and
    groups whose images carry different labels (label noise or leakage)."""
    ids, counts = np.unique(dup_groups, return_counts=True)
    multi = ids[counts > 1]
    mixed = sum(1 for g in multi if len(set(labels[dup_groups == g].tolist())) > 1)
    return {
        "duplicate groups": len(multi),
        "images in duplicate groups": int(counts[counts > 1].sum()),
        "groups with mixed labels": mixed,
    }
