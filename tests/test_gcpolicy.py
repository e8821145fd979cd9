"""``tcgpy run`` sets the host's garbage collector for a translator's heap
(tcgpy/gcpolicy.py); a program importing tcgpy as a library keeps its own."""
import subprocess
import sys
import textwrap

from tcgpy import gcpolicy


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=True, timeout=120).stdout


def test_run_freezes_startup_and_raises_thresholds():
    out = _python("""
        import gc
        from tcgpy import gcpolicy
        before = gc.get_freeze_count()
        gcpolicy.tune_for_run()
        print(before, gc.get_freeze_count() > before, gc.get_threshold())
    """)
    before, frozen, thresholds = out.split(" ", 2)
    assert frozen == "True"
    assert thresholds.strip() == str(gcpolicy.THRESHOLDS)


def test_young_cycles_are_still_collected():
    # What a long-running guest leaves behind in cycles (an exception and
    # its traceback) is found by the young collections: memory stays bounded.
    out = _python("""
        import gc, weakref
        from tcgpy import gcpolicy
        gcpolicy.tune_for_run()
        class Node: pass
        refs = []
        for i in range(300_000):
            a, b = Node(), Node()
            a.other, b.other = b, a
            if i % 1000 == 0:
                refs.append(weakref.ref(a))
        print(sum(r() is not None for r in refs), len(refs))
    """)
    alive, total = map(int, out.split())
    assert total == 300 and alive < total // 4


def test_library_use_keeps_the_collector_settings():
    out = _python("""
        import gc
        gc.set_threshold(123, 4, 5)
        from tcgpy import Emulator
        emu = Emulator("aarch64")
        emu.mem_map(0x10000, 0x1000)
        emu.mem_write(0x10000, bytes.fromhex("20008052c0035fd6"))   # mov w0, #1; ret
        emu.reg_write("lr", 0x10008)
        emu.run(0x10000, until=0x10008)
        print(gc.get_threshold())
    """)
    assert out.strip() == "(123, 4, 5)"
