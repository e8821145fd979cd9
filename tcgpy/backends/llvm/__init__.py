"""The LLVM backend.  Nothing is imported here: a run whose code all comes
from the persistent cache uses runtime.py, access.py, jit.py and objload.py
and never the lowering (lower.py and the target lowerings it registers).
"""
