"""COCO run-length encoded masks: the compressed string format and the extent of a mask, without decoding it.

RLE counts alternate 0-runs and 1-runs (starting with 0s) over the mask in column-major order (down each
column, then the next column), as pycocotools writes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from training.datasets.errors import CorruptFileError


def decode_counts(text: str, where: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools ``rleFrString``).

    Each count is a little-endian sequence of 5-bit groups stored as ``chr(group + 48)``, bit 0x20 meaning
    "more groups follow" and bit 0x10 of the last group the sign; counts from the third on are stored as the
    difference to the count two before.
    """
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise CorruptFileError(f"{where}: compressed RLE string ends inside a count")
            group = ord(text[pos]) - 48
            if not 0 <= group < 64:
                raise CorruptFileError(
                    f"{where}: compressed RLE string has an invalid character {text[pos]!r}"
                )
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            pos += 1
            shift += 5
            if not more and group & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_extent(
    counts: Sequence[int], height: int, width: int, where: str
) -> tuple[int, int, int, int] | None:
    """``(x1, y1, x2, y2)`` (exclusive ends) of the 1-pixels of an RLE mask, None when the mask is empty."""
    if any(c < 0 for c in counts):
        raise CorruptFileError(f"{where}: RLE counts must not be negative")
    if sum(counts) != height * width:
        raise CorruptFileError(
            f"{where}: RLE counts cover {sum(counts)} pixels, a {width}x{height} mask has {height * width}"
        )
    x1 = y1 = x2 = y2 = -1
    pos = 0
    for i, run in enumerate(counts):
        start, pos = pos, pos + run
        if i % 2 == 0 or run == 0:
            continue
        c0, r0 = divmod(start, height)
        c1, r1 = divmod(pos - 1, height)
        top, bottom = (r0, r1) if c0 == c1 else (0, height - 1)
        if x1 < 0:
            x1, y1, x2, y2 = c0, top, c1, bottom
        else:
            x1, y1, x2, y2 = min(x1, c0), min(y1, top), max(x2, c1), max(y2, bottom)
    return None if x1 < 0 else (x1, y1, x2 + 1, y2 + 1)
