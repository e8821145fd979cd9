"""The record a campaign keeps in its ``--out`` directory, so that
``--resume DIR`` can continue it after an interruption.

It lives in ``DIR/.campaign/`` (hidden, so that ``DIR/*.json`` stays the
case files): ``campaign.json`` holds what defines the cases (the spec and the
count) and the versions that ran them; ``progress.jsonl`` gets one line per finished
chunk: its index range and its result (case files are already written next
to it).  A chunk counts once it has its line, so an interruption loses at
most the chunks in flight, and a resumed campaign runs exactly the indices no
line covers.  A line torn by the interruption is ignored: its chunk reruns.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, replace

from .campaign import ChunkResult, Spec

FORMAT = "tcgpy-difftest-campaign/1"
RECORD = ".campaign"
HEADER = os.path.join(RECORD, "campaign.json")
PROGRESS = os.path.join(RECORD, "progress.jsonl")


def versions() -> dict[str, str]:
    """What a campaign's results depend on besides its spec: tcgpy (its
    version and a digest of its source, so two development trees differ)
    and Unicorn."""
    import unicorn

    from .. import __version__
    from ..pcache import source_digest
    return {"tcgpy": f"{__version__}+{source_digest()[:12]}", "unicorn": unicorn.__version__}


def start(directory: str, spec: Spec, count: int) -> None:
    """Begin the record of a new campaign in ``directory`` (replacing any)."""
    os.makedirs(os.path.join(directory, RECORD), exist_ok=True)
    header = {"format": FORMAT, "spec": asdict(replace(spec, out=None)), "count": count,
              "versions": versions()}
    with open(os.path.join(directory, HEADER), "w") as f:
        json.dump(header, f, indent=1)
        f.write("\n")
    open(os.path.join(directory, PROGRESS), "w").close()


def load_header(directory: str) -> tuple[Spec, int]:
    """The spec (with ``out`` = ``directory``) and count of the campaign
    recorded in ``directory``; ValueError when there is none or it was run
    by other versions (its results would not mean the same)."""
    path = os.path.join(directory, HEADER)
    try:
        with open(path) as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{directory}: no campaign recorded here ({HEADER} missing)") from None
    if d.get("format") != FORMAT:
        raise ValueError(f"{path}: not a tcgpy difftest campaign record")
    if d.get("versions") != versions():
        raise ValueError(f"{path}: recorded by {d.get('versions')}, this is {versions()}; "
                         "results of different versions do not add up")
    s = dict(d["spec"], classes=tuple(d["spec"]["classes"]), out=directory)
    return Spec(**s), int(d["count"])


def load(directory: str, spec: Spec, count: int) -> dict[range, ChunkResult]:
    """The finished chunks recorded in ``directory`` for ``spec``/``count``."""
    rspec, rcount = load_header(directory)
    if replace(rspec, out=None) != replace(spec, out=None) or rcount != count:
        raise ValueError(f"{directory}: records another campaign ({rspec}, {rcount} cases)")
    done: dict[range, ChunkResult] = {}
    with open(os.path.join(directory, PROGRESS)) as f:
        for line in f:
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue                # torn by the interruption: the chunk reruns
            done[range(d["start"], d["stop"])] = ChunkResult.from_json(d["result"])
    return done


def remaining(done, count: int) -> list[range]:
    """The index ranges of 0..count-1 that no recorded chunk covers."""
    todo, at = [], 0
    for r in sorted(done, key=lambda r: r.start):
        if r.start > at:
            todo.append(range(at, r.start))
        at = max(at, r.stop)
    if at < count:
        todo.append(range(at, count))
    return todo


class Recorder:
    """Appends finished chunks to ``progress.jsonl``."""

    def __init__(self, directory: str):
        self._f = open(os.path.join(directory, PROGRESS), "a")

    def add(self, chunk: range, result: ChunkResult) -> None:
        line = json.dumps({"start": chunk.start, "stop": chunk.stop, "result": result.to_json()})
        # One write per line, flushed: a killed client leaves whole lines
        # and at most one torn one.
        self._f.write(line + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()
