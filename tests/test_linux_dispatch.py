"""The dispatcher's per-syscall checks (process.dispatch_table), worked out
once per row, say what the sets they come from say, for every row."""
from __future__ import annotations

from tcgpy.linux import process
from tcgpy.linux.syscalls import TABLE
from tcgpy.linux.syscalls.blocking import FD_POSITIONED, FD_WAITS

SETS = {
    process.CHECK_WAITS: FD_WAITS,
    process.CHECK_POSITIONED: FD_POSITIONED,
    process.CHECK_REUSE: process.FD_REUSE,
    process.CHECK_SHRINK: process.FILES_MAY_SHRINK,
}


def test_checks_follow_the_sets_and_descriptor_arguments():
    rows = dict(enumerate(TABLE.rows.values()))
    table = process.dispatch_table(rows)
    assert table.keys() == rows.keys()
    seen = 0
    for nr, row in rows.items():
        got, nargs, checks = table[nr]
        assert got is row and nargs == len(row.args)
        assert bool(checks & process.CHECK_OWN_FD) == bool(row.fd_args), row.name
        for bit, names in SETS.items():
            assert bool(checks & bit) == (row.name in names), (row.name, bit)
        seen |= checks
    # every check is some row's (a set naming no registered syscall would be dead)
    assert seen == process.CHECK_OWN_FD | sum(SETS)
