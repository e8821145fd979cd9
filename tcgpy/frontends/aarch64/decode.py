"""The A64 decoder instance; the insn_* modules register their patterns on it."""
from ..decodetree import Decoder

A64 = Decoder("a64")
