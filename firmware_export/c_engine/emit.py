"""Render the generated C (drsn_model.h/.c, Makefile) from the template files.

Templates hold ``{{ NAME }}`` placeholders (:mod:`drsn_edge.render`); this
module only formats values (arrays, parameter structs, kernel calls) with
:mod:`firmware_export.c_literals` and hands them over.
"""
from __future__ import annotations

from pathlib import Path

from drsn_edge.int8_input import Int8Input
from drsn_edge.preprocess import Preprocessing
from drsn_edge.render import Code, render
from firmware_export.c_engine.arena import ArenaPlan
from firmware_export.c_engine.graph import Graph
from firmware_export.c_engine.lower import Const, Step
from firmware_export.c_engine.preprocessing import c_preprocessing
from firmware_export.c_engine.sources import compiled_sources, headers
from firmware_export.c_literals import c_double, c_initializer, c_string, number_array

TEMPLATES = Path(__file__).resolve().parent / "templates"
HOST_CFLAGS = "-std=c99 -O2 -Wall -Wextra -Werror"


class Emitter:
    """Collects constant arrays and parameter structs while formatting the steps."""

    def __init__(self, graph: Graph, arena: ArenaPlan) -> None:
        self.graph, self.arena = graph, arena
        self.arrays: list[str] = []
        self.structs: list[str] = []
        self.tensor_arrays: dict[int, str] = {}

    def array(self, const: Const, label: str) -> str:
        name = f"drsn_c{len(self.arrays)}"
        self.arrays.append(number_array(name, const.ctype, const.values, label))
        return name

    def tensor(self, index: int) -> str:
        """A kernel argument: an arena slice, or a constant operand's array."""
        t = self.graph.tensors[index]
        if not t.is_const:
            return f"a + {self.arena.offsets[index]}"
        if index not in self.tensor_arrays:
            self.tensor_arrays[index] = self.array(Const("int8_t", t.data.ravel().tolist()), f"tensor {t.name}")
        return self.tensor_arrays[index]

    def value(self, v: object, label: str) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, Const):
            return self.array(v, label)
        if isinstance(v, list):
            return c_initializer(str(int(x)) for x in v)
        return str(int(v))

    def step(self, i: int, s: Step) -> str:
        if s.kernel is None:
            return f"    /* {i}: {s.op} (aliases its input) */"
        name = f"drsn_p{i}"
        fields = ", ".join(f".{k} = {self.value(v, f'op {i} {s.op}: {k}')}" for k, v in s.params.items())
        self.structs.append(f"static const {s.ptype} {name} = {{{fields}}};")
        args = ", ".join(self.tensor(t) for t in s.inputs)
        return f"    {s.kernel}(&{name}, {args}, a + {self.arena.offsets[s.output]});" \
               f" DRSN_PROFILE_MARK({i}); /* {i}: {s.op} */"


def emit(graph: Graph, steps: list[Step], arena: ArenaPlan, info: dict) -> dict[str, str]:
    """File name -> generated text, for drsn_model.h, drsn_model.c and the Makefile."""
    em = Emitter(graph, arena)
    calls = "\n".join(em.step(i, s) for i, s in enumerate(steps))
    inp, out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    pre = info["preprocessing"]
    values = {
        "SOURCE": info["source"], "MODEL_NAME": info["name"], "WINDOW_LENGTH": pre["window_length"],
        "NUM_CLASSES": len(info["classes"]), "ARENA_BYTES": arena.size, "LOWER_BOUND": arena.lower_bound,
        "INPUT_SCALE": c_double(inp.scale), "INPUT_ZERO_POINT": inp.zero_point,
        "OUTPUT_SCALE": c_double(out.scale), "OUTPUT_ZERO_POINT": out.zero_point, "NUM_OPS": len(steps),
        "NORMALISATION_NAME": pre["normalisation"],
        "PREPROCESSING": c_preprocessing(Int8Input(Preprocessing.from_dict(pre), inp.scale, inp.zero_point)),
        "CLASS_NAMES": c_initializer(c_string(c) for c in info["classes"]),
        "INPUT_OFFSET": arena.offsets[graph.inputs[0]], "OUTPUT_OFFSET": arena.offsets[graph.outputs[0]],
        "STEPS": Code(calls), "CFLAGS": HOST_CFLAGS, "SOURCES": " ".join(compiled_sources()),
        "HEADERS": " ".join(headers()), "UNKNOWN_THRESHOLD": int(info.get("unknown_threshold", 0)),
        "UNKNOWN_ON": int("unknown_threshold" in info),
    }
    values["CONSTANTS"] = Code("\n".join(em.arrays))
    values["PARAMS"] = Code("\n".join(em.structs))
    return {name: render(TEMPLATES, f"{name}.in", values) for name in ("drsn_model.h", "drsn_model.c", "Makefile")}
