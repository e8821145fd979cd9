"""tcgpy.record: the dataclass subset tcgpy's start-up path uses."""
import subprocess
import sys

import pytest

from tcgpy.record import FrozenRecordError, factory, fields, record, replace


@record
class Point:
    x: int
    y: int = 2
    tags: list = factory(list)


@record(frozen=True)
class Key:
    name: str
    size: int = 8


@record(eq=False, slots=True)
class Slotted:
    a: int
    b: int = 0


@record
class Derived(Point):
    z: int = 3


def test_init_defaults_and_factory():
    p, q = Point(1), Point(1)
    assert (p.x, p.y, p.tags) == (1, 2, [])
    assert p.tags is not q.tags                 # a new list for each instance
    assert Point(1, 5, [7]).tags == [7]
    assert Point(x=4, tags=[1]).y == 2
    with pytest.raises(TypeError):
        Point()
    with pytest.raises(TypeError):
        Point(1, 2, [], 4)


def test_repr_eq_hash():
    assert repr(Point(1)) == "Point(x=1, y=2, tags=[])"
    assert Point(1) == Point(1) and Point(1) != Point(2)
    assert Point(1) != (1, 2, [])
    assert Point.__hash__ is None                # mutable and compared: unhashable, as dataclasses
    assert Key("a") == Key("a", 8) and hash(Key("a")) == hash(Key("a", 8))
    assert len({Key("a"), Key("a"), Key("b")}) == 2


def test_frozen():
    k = Key("a")
    with pytest.raises(FrozenRecordError):
        k.name = "b"
    with pytest.raises(AttributeError):       # as dataclasses.FrozenInstanceError is
        del k.size
    assert k.name == "a"


def test_slots_and_identity_eq():
    s = Slotted(1)
    assert not hasattr(s, "__dict__")
    with pytest.raises(AttributeError):
        s.c = 3                                  # a misspelt attribute is an error
    assert s != Slotted(1) and s == s            # eq=False: identity
    assert Slotted.__qualname__ == "Slotted"


def test_inheritance_and_replace():
    d = Derived(1, z=9)
    assert fields(Derived) == ("x", "y", "tags", "z")
    assert (d.x, d.y, d.tags, d.z) == (1, 2, [], 9)
    r = replace(d, y=7)
    assert type(r) is Derived and (r.x, r.y, r.z) == (1, 7, 9)
    assert replace(Key("a"), size=4) == Key("a", 4)


def test_post_init_and_classvar():
    @record
    class P:
        LIMIT: "ClassVar[int]" = 3
        n: int

        def __post_init__(self):
            self.double = 2 * self.n

    assert fields(P) == ("n",) and P(4).double == 8 and P.LIMIT == 3


def test_field_order_is_checked():
    with pytest.raises(TypeError):
        @record
        class Bad:
            a: int = 1
            b: int


def test_warm_path_imports_no_dataclass_machinery():
    """The modules a ``tcgpy run`` loads create no dataclass of their own
    (each costs ~0.5 ms of start-up, and the module ~8 ms more)."""
    code = ("import dataclasses, sys\n"
            "import tcgpy.cli, tcgpy.emulator, tcgpy.linux.process, tcgpy.persist, tcgpy.tbcache\n"
            "import tcgpy.frontends.aarch64, tcgpy.linux.aarch64\n"
            "for name, mod in sorted(sys.modules.items()):\n"
            "    if name.startswith('tcgpy'):\n"
            "        for v in vars(mod).values():\n"
            "            if dataclasses.is_dataclass(v) and v.__module__ == name:\n"
            "                print(name + '.' + v.__qualname__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == []
