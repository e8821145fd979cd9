"""Records: classes that are a list of typed fields, each declared once.

``@record`` reads the class's annotations (its fields, in order) and their
defaults, and gives the class an ``__init__`` taking them, a ``__repr__`` and
``__eq__`` over them, and with ``frozen=True`` no assignment after ``__init__``
and a hash of the fields; ``factory(make)`` as a default calls ``make()`` for
each instance (dataclasses' ``field(default_factory=make)``), and
``__post_init__`` runs after ``__init__`` as with dataclasses.  ``replace``
copies a record with some fields changed.

Why not dataclasses: a run whose code is all in the persistent cache is
mostly start-up, and creating a dataclass costs ~0.5 ms (it generates and
compiles three to five methods and builds ``inspect.signature`` for a
docstring; the module imports ``inspect``, ``ast``, ``dis`` and
``tokenize``, ~8 ms more).  A record compiles one method, its ``__init__``
(instances are created as fast as a dataclass's); ``__repr__``, ``__eq__``
and ``__hash__`` are shared functions that walk the field names.  Use
dataclasses where their other features are wanted (``asdict``, ``order``,
``kw_only``) off the path a run takes.
"""
from __future__ import annotations

__all__ = ["record", "factory", "replace", "fields", "FrozenRecordError"]


class FrozenRecordError(AttributeError):
    """An assignment to a field of a frozen record."""


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


def factory(make) -> _Factory:
    """A default that is ``make()``, called anew for each instance."""
    return _Factory(make)


_MISSING = object()


def _is_classvar(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__qualname__", "")
    return text.startswith(("ClassVar", "typing.ClassVar"))


def fields(cls_or_record) -> tuple[str, ...]:
    """The field names of a record class or instance, in declaration order."""
    return cls_or_record.__record_fields__


def replace(rec, **changes):
    """A copy of ``rec`` with ``changes`` applied (dataclasses.replace)."""
    for name in rec.__record_fields__:
        if name not in changes:
            changes[name] = getattr(rec, name)
    return type(rec)(**changes)


def _repr(self) -> str:
    inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__record_fields__)
    return f"{type(self).__qualname__}({inner})"


def _values(self) -> tuple:
    return tuple(getattr(self, n) for n in self.__record_fields__)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self) -> int:
    return hash(_values(self))


def _frozen_setattr(self, name, value):
    raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__qualname__}")


def _frozen_delattr(self, name):
    raise FrozenRecordError(f"cannot delete field {name!r} of a frozen {type(self).__qualname__}")


def record(cls=None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False,
           weakref_slot: bool = False):
    """Make ``cls`` a record (see the module docstring); ``slots=True``
    gives it ``__slots__`` (no per-instance dict: smaller and faster where
    there are many instances, and a misspelt attribute is an error)."""
    def wrap(cls):
        return _make(cls, frozen, eq, slots, weakref_slot)
    return wrap if cls is None else wrap(cls)


def _make(cls, frozen: bool, eq: bool, slots: bool, weakref_slot: bool):
    names: list[str] = []
    defaults: dict[str, object] = {}
    for base in reversed(cls.__mro__[1:]):
        for name in getattr(base, "__record_fields__", ()):
            if name not in defaults and name in base.__record_defaults__:
                defaults[name] = base.__record_defaults__[name]
            if name not in names:
                names.append(name)
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        if name not in names:
            names.append(name)
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]

    if slots:
        ns = {k: v for k, v in cls.__dict__.items()
              if k not in defaults and k not in ("__dict__", "__weakref__")}
        own = [n for n in names if not any(n in getattr(b, "__record_fields__", ())
                                           for b in cls.__mro__[1:])]
        ns["__slots__"] = tuple(own) + (("__weakref__",) if weakref_slot else ())
        qualname = cls.__qualname__
        cls = type(cls)(cls.__name__, cls.__bases__, ns)
        cls.__qualname__ = qualname
    else:
        for name, value in defaults.items():
            if isinstance(value, _Factory) and name in cls.__dict__:
                delattr(cls, name)      # the instance always has its own

    cls.__record_fields__ = tuple(names)
    cls.__record_defaults__ = defaults
    cls.__init__ = _init(cls, names, defaults, frozen)
    if "__repr__" not in cls.__dict__:
        cls.__repr__ = _repr
    if eq and "__eq__" not in cls.__dict__:
        cls.__eq__ = _eq
        if "__hash__" not in cls.__dict__:
            cls.__hash__ = _hash if frozen else None
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    return cls


def _init(cls, names: list[str], defaults: dict, frozen: bool):
    """Compile ``__init__`` for these fields: the one generated method (the
    per-instance cost is that of a hand-written ``__init__``)."""
    env = {"_MISSING": _MISSING, "_setattr": object.__setattr__}
    params, body, seen_default = ["self"], [], False
    for name in names:
        value = defaults.get(name, _MISSING)
        if value is _MISSING:
            if seen_default:
                raise TypeError(f"{cls.__qualname__}: field {name!r} without a default follows one with a default")
            params.append(name)
            arg = name
        elif isinstance(value, _Factory):
            seen_default = True
            env[f"_make_{name}"] = value.make
            params.append(f"{name}=_MISSING")
            arg = f"_make_{name}() if {name} is _MISSING else {name}"
        else:
            seen_default = True
            env[f"_dflt_{name}"] = value
            params.append(f"{name}=_dflt_{name}")
            arg = name
        body.append(f"_setattr(self, {name!r}, {arg})" if frozen else f"self.{name} = {arg}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    src = f"def __init__({', '.join(params)}):\n    " + ("\n    ".join(body) or "pass") + "\n"
    exec(src, env)
    fn = env["__init__"]
    fn.__qualname__ = f"{cls.__qualname__}.__init__"
    return fn
