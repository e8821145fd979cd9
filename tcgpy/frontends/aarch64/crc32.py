"""Arm's CRC32 and CRC32C instructions (FEAT_CRC32): what the ``crc32``
helper they call computes (tcgpy.ir.helpers declares it), and its tables, the "arm_crc32" semantics the AArch64 target
declares (tcgpy.ir.semantics) so that the backend's host code reads the
same tables."""
from __future__ import annotations


def _crc32_table(poly: int) -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


CRC_TABLES = (_crc32_table(0xEDB88320), _crc32_table(0x82F63B78))


def crc32(acc: int, value: int, desc: int) -> int:
    """CRC32 (desc bit 2: CRC32C) of the low 1 << (desc & 3) bytes of value."""
    table = CRC_TABLES[desc >> 2 & 1]
    crc = acc & 0xFFFF_FFFF
    for i in range(1 << (desc & 3)):
        crc = table[(crc ^ (value >> (8 * i))) & 0xFF] ^ (crc >> 8)
    return crc
