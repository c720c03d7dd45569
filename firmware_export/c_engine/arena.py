"""Tensor lifetimes and a static arena: every activation gets a fixed offset.

Aliasing ops (RESHAPE) share one buffer. A buffer lives from the step that
writes it to the last step that reads it (the graph input from step 0, the
graph output to the end). Buffers are placed largest first at the lowest
offset that does not collide with an already placed buffer alive at the same
time (the greedy planner TFLite Micro uses too). The lower bound is the most
bytes alive at any one step: no plan can use less.
"""
from __future__ import annotations

from dataclasses import dataclass

from firmware_export.c_engine.graph import Graph
from firmware_export.c_engine.lower import Step


@dataclass
class Buffer:
    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = -1


@dataclass
class ArenaPlan:
    offsets: dict[int, int]  # activation tensor -> byte offset
    size: int
    lower_bound: int
    buffers: list[Buffer]


def _root(parent: dict[int, int], t: int) -> int:
    while parent.get(t, t) != t:
        t = parent[t]
    return t


def buffers(g: Graph, steps: list[Step]) -> list[Buffer]:
    """Alias groups with their size and [first, last] step (the input is written at step 0, ops run 1..n)."""
    parent: dict[int, int] = {}
    for s in steps:
        if s.kernel is None:
            parent[s.output] = _root(parent, s.inputs[0])
    spans: dict[int, list[int]] = {}
    members: dict[int, list[int]] = {}

    def touch(t: int, when: int) -> None:
        if g.tensors[t].is_const:
            return
        r = _root(parent, t)
        members.setdefault(r, [])
        if t not in members[r]:
            members[r].append(t)
        span = spans.setdefault(r, [when, when])
        span[0], span[1] = min(span[0], when), max(span[1], when)

    touch(g.inputs[0], 0)
    for when, s in enumerate(steps, start=1):
        for t in s.inputs:
            touch(t, when)
        touch(s.output, when)
    touch(g.outputs[0], len(steps) + 1)
    return [Buffer(members[r], g.tensors[r].size, *spans[r]) for r in spans]


# placement orders tried; the smallest arena wins (each is the greedy first-fit of TFLite Micro's planner)
ORDERS = {
    "largest first": lambda b: (-b.size, b.first),
    "longest-lived first": lambda b: (-(b.last - b.first), -b.size),
    "largest area first": lambda b: (-b.size * (b.last - b.first + 1), b.first),
    "in time order": lambda b: (b.first, -b.size),
}


def _place(bufs: list[Buffer], order) -> int:
    placed: list[Buffer] = []
    for b in sorted(bufs, key=order):
        clashes = sorted((p for p in placed if p.first <= b.last and b.first <= p.last), key=lambda p: p.offset)
        offset = 0
        for p in clashes:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, p.offset + p.size)
        b.offset = offset
        placed.append(b)
    return max((b.offset + b.size for b in bufs), default=0)


def plan(g: Graph, steps: list[Step]) -> ArenaPlan:
    """Offsets for every activation tensor from the best of a few greedy placements."""
    bufs = buffers(g, steps)
    best = min(ORDERS.values(), key=lambda order: _place(bufs, order))
    size = _place(bufs, best)
    last = max((b.last for b in bufs), default=0)
    bound = max(sum(b.size for b in bufs if b.first <= t <= b.last) for t in range(last + 1))
    return ArenaPlan({t: b.offset for b in bufs for t in b.tensors}, size, bound, bufs)
