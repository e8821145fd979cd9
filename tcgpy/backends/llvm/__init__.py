"""The LLVM backend.  ``lower`` first, whichever module is asked for: it
registers the op lowerings, and the vec and FP lowerings it imports at its
end import names from it in turn (lower_arm_fp first would find it half done)."""
from . import lower  # noqa: F401
