"""MinHash signatures and a banded LSH index over them, for near-duplicate detection (``pipelines.dedup``).

Written here rather than imported from datasketch: importing any part of datasketch imports its whole package,
which pulls in scipy (to choose the LSH bands once), aiohttp and redis (for storage backends a crawl does not
use): about 0.55 s of CPU and 58 MB in every crawling process, for some forty lines of numpy.

The signatures are bit-for-bit those of datasketch's ``MinHash(num_perm, seed=1, scheme="affine32")`` with its
default SHA-1 hash (``tests/test_minhash.py`` checks it against datasketch), so signatures stored in a topic's
state by earlier versions stay comparable with new ones. The band layout is chosen the way datasketch's
``MinHashLSH`` chooses it: the (bands, rows) that minimize the equally weighted false-positive and
false-negative areas under the S-curve.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Hashable, Iterable

import numpy as np

SEED = 1
EMPTY = np.uint32(0xFFFFFFFF)  # the value of a slot no shingle has reached


@functools.cache
def permutations(num_perm: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutations ``h -> a*h + b mod 2**32`` (``a`` odd, so each is a bijection)."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer: spreads structured input hashes before the permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def minhash(tokens: Iterable[bytes], num_perm: int = 128) -> np.ndarray:
    """The MinHash signature (``num_perm`` uint32) of a set of byte strings."""
    hashes = np.fromiter((int.from_bytes(hashlib.sha1(token).digest()[:4], "little") for token in tokens),
                         dtype=np.uint32)
    signature = np.full(num_perm, EMPTY, dtype=np.uint32)
    if hashes.size:
        a, b = permutations(num_perm)
        with np.errstate(over="ignore"):  # the wraparound is the modulo 2**32
            permuted = _fmix32(hashes).reshape(-1, 1) * a + b
        np.minimum(signature, permuted.min(axis=0), out=signature)
    return signature


def jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two sets: the share of slots where their signatures agree."""
    if len(first) != len(second):
        raise ValueError(f"signatures of different lengths ({len(first)} and {len(second)})")
    return float(np.count_nonzero(first == second)) / len(first)


def _area(curve: np.ndarray, grid: np.ndarray) -> float:
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(grid)) / 2)


@functools.cache
def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) whose S-curve ``1 - (1 - s**r)**b`` best separates similarities above
    ``threshold`` from those below: the least sum of the false-positive area (below the threshold) and the
    false-negative area (above it)."""
    below, above = np.linspace(0.0, threshold, 513), np.linspace(threshold, 1.0, 513)
    best, best_error = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = _area(1 - (1 - below ** rows) ** bands, below)
            false_negative = _area((1 - above ** rows) ** bands, above)
            error = false_positive + false_negative
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


class LSHIndex:
    """Signatures cut into bands; two signatures that agree on a whole band are candidates for each other."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        self.bands, self.rows = optimal_bands(threshold, num_perm)
        self._tables: list[defaultdict[bytes, list[Hashable]]] = [defaultdict(list) for _ in range(self.bands)]

    def _band_keys(self, signature: np.ndarray) -> list[bytes]:
        rows = self.rows
        return [signature[band * rows:(band + 1) * rows].tobytes() for band in range(self.bands)]

    def insert(self, key: Hashable, signature: np.ndarray) -> None:
        for table, band in zip(self._tables, self._band_keys(signature)):
            table[band].append(key)

    def query(self, signature: np.ndarray) -> set[Hashable]:
        """The keys that share at least one band with ``signature``."""
        found: set[Hashable] = set()
        for table, band in zip(self._tables, self._band_keys(signature)):
            found.update(table.get(band, ()))
        return found
