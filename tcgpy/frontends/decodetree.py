"""Table-driven instruction decoding, after QEMU's decodetree.

An instruction form is a pattern string written MSB first, beside the function
that translates it::

    @dec.pattern("sf:1 0 0 100010 sh:1 imm:12 rn:5 rd:5")
    def trans_ADD_i(ctx, a): ...

Tokens are fixed bits (``0``/``1`` runs), ignored bits (``-`` runs), and fields
``name:width`` (unsigned) or ``name:sWIDTH`` (sign-extended).  Patterns are
validated when registered (exactly 32 bits, no duplicate forms, no duplicate
field names) and compiled once into a decision tree keyed on the bits that all
patterns of a node fix.  Several patterns may match one word (A64 has many
"unallocated when ..." holes inside a form): they are tried most specific first
and a translator returns False to decline, which moves on to the next one; a
word that no translator accepts is undefined.
"""
from __future__ import annotations

import re
from ..record import record
from typing import Callable

_TOKEN = re.compile(r"([01]+)|(-+)|([a-zA-Z_][a-zA-Z0-9_]*):(s?)(\d+)")


class DecodeError(Exception):
    pass


@record(frozen=True)
class Field:
    name: str
    shift: int
    width: int
    signed: bool


class Args:
    """The decoded fields of one instruction (attribute access)."""
    __slots__ = ("__dict__",)

    def __repr__(self) -> str:
        return "Args(" + ", ".join(f"{k}={v}" for k, v in self.__dict__.items()) + ")"


@record
class Pattern:
    text: str
    mask: int
    value: int
    fields: tuple[Field, ...]
    fixed_args: tuple[tuple[str, int], ...]
    trans: Callable
    order: int
    keep_word: bool = False


    @property
    def specificity(self) -> int:
        return bin(self.mask).count("1")

    def extract(self, word: int) -> Args:
        """The fields of ``word``: the first call compiles this pattern's
        own extractor (every field a shift and a mask written out), which
        then replaces this method on the instance."""
        self.extract = _extractor(self)
        return self.extract(word)


def _extractor(p: Pattern):
    items = []
    for f in p.fields:
        v = f"(word >> {f.shift}) & {(1 << f.width) - 1:#x}"
        if f.signed:
            sign = 1 << (f.width - 1)
            v = f"(({v}) ^ {sign:#x}) - {sign:#x}"
        items.append(f"{f.name!r}: {v}")
    items += [f"{k!r}: {v!r}" for k, v in p.fixed_args]
    if p.keep_word:
        items.append("'word': word")
    ns = {"Args": Args}
    exec(f"def extract(word):\n    a = Args()\n    a.__dict__ = {{{', '.join(items)}}}\n    return a\n", ns)
    return ns["extract"]


def parse_pattern(text: str, width: int = 32) -> tuple[int, int, tuple[Field, ...]]:
    mask = value = 0
    pos = width
    fields: list[Field] = []
    names: set[str] = set()
    for tok in text.split():
        m = _TOKEN.fullmatch(tok)
        if not m:
            raise DecodeError(f"bad token {tok!r} in pattern {text!r}")
        bits, dontcare, name, signed, w = m.groups()
        if bits:
            pos -= len(bits)
            mask |= ((1 << len(bits)) - 1) << pos
            value |= int(bits, 2) << pos
        elif dontcare:
            pos -= len(dontcare)
        else:
            if name in names:
                raise DecodeError(f"field {name!r} twice in pattern {text!r}")
            names.add(name)
            pos -= int(w)
            fields.append(Field(name, pos, int(w), bool(signed)))
        if pos < 0:
            break
    if pos != 0:
        raise DecodeError(f"pattern {text!r} covers {width - pos} bits, not {width}")
    return mask, value, tuple(fields)


class _Node:
    __slots__ = ("mask", "children", "patterns")

    def __init__(self, mask: int = 0, children=None, patterns=()):
        self.mask = mask
        self.children = children or {}
        self.patterns = patterns


class Decoder:
    """A set of patterns for one instruction set, compiled into a decision tree."""

    LEAF_SIZE = 6

    def __init__(self, name: str, width: int = 32, keep_word: bool = False):
        """``keep_word``: translators also get the whole word as ``a.word``
        (for immediates scattered over the word in pieces, as RISC-V's
        compressed formats have them, assembled by the frontend's %field
        functions)."""
        self.name = name
        self.width = width
        self.keep_word = keep_word
        self.patterns: list[Pattern] = []
        self._root: _Node | None = None
        self._decoded: dict[int, tuple] = {}

    def pattern(self, text: str, **fixed: int):
        """Decorator: register ``text`` as a form translated by the decorated function.

        Keyword arguments become extra constant fields, so that one translator
        can serve several forms (``@dec.pattern("...", op=0)``).
        """
        mask, value, fields = parse_pattern(text, self.width)
        for p in self.patterns:
            if p.mask == mask and p.value == value and p.fixed_args == tuple(fixed.items()):
                raise DecodeError(f"pattern {text!r} duplicates {p.text!r}")

        def register(fn):
            self.patterns.append(Pattern(text, mask, value, fields, tuple(fixed.items()),
                                         fn, len(self.patterns), self.keep_word))
            self._root = None
            self._decoded.clear()
            return fn
        return register

    # -- compilation ---------------------------------------------------------
    def _build(self, patterns: list[Pattern], used: int) -> _Node:
        common = ((1 << self.width) - 1) & ~used
        for p in patterns:
            common &= p.mask
        if len(patterns) <= self.LEAF_SIZE or not common:
            return _Node(patterns=tuple(sorted(patterns, key=lambda p: (-p.specificity, p.order))))
        groups: dict[int, list[Pattern]] = {}
        for p in patterns:
            groups.setdefault(p.value & common, []).append(p)
        if len(groups) == 1:
            # every pattern agrees on those bits: they are no help deciding
            return self._build(patterns, used | common)
        node = _Node(mask=common)
        node.children = {k: self._build(v, used | common) for k, v in groups.items()}
        return node

    def compile(self) -> None:
        self._root = self._build(self.patterns, 0)
        self._decoded.clear()

    def lookup(self, word: int) -> tuple[Pattern, ...]:
        """All patterns whose fixed bits match ``word``, most specific first."""
        node = self._root
        if node is None:
            self.compile()
            node = self._root
        while node.mask:
            node = node.children.get(word & node.mask)
            if node is None:
                return ()
        return tuple([p for p in node.patterns if word & p.mask == p.value])

    # Words decoded since the cache was last emptied, at most.  A program's
    # start-up translates tens of thousands of blocks, and the same words
    # come back (ret, the frame setup, a load off sp): a first run of
    # perl -e decodes 39,000 instructions, 17,000 distinct words.
    DECODED_MAX = 1 << 16

    def candidates(self, word: int) -> tuple:
        """(pattern, fields) of every pattern that matches ``word``, most
        specific first (``lookup`` and ``extract``, remembered per word:
        translators only read the fields)."""
        c = self._decoded.get(word)
        if c is None:
            c = tuple((p, p.extract(word)) for p in self.lookup(word))
            if len(self._decoded) >= self.DECODED_MAX:
                self._decoded.clear()
            self._decoded[word] = c
        return c

    def decoded_before(self, word: int) -> tuple | None:
        """``candidates(word)`` if remembered, else None."""
        return self._decoded.get(word)

    def decode(self, ctx, word: int) -> bool:
        """Translate ``word`` with the first translator that accepts it."""
        for p in self.lookup(word):
            if p.trans(ctx, p.extract(word)) is not False:
                return True
        return False
