"""Render the generated C (drsn_model.h/.c, Makefile) from the template files.

Templates hold ``{{NAME}}`` placeholders; this module only formats values
(arrays, parameter structs, kernel calls) and substitutes them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from drsn_edge.errors import DrsnError
from firmware_export.c_engine.arena import ArenaPlan
from firmware_export.c_engine.graph import Graph
from firmware_export.c_engine.lower import Const, Step

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
HOST_CFLAGS = "-std=c99 -O2 -Wall -Wextra -Werror"
NORMALISATIONS = {"none": 0, "window": 1, "global": 2}


def render(name: str, values: dict[str, object]) -> str:
    """Substitute ``{{KEY}}`` in template ``name``; a placeholder without a value is an error."""
    text = (TEMPLATES / name).read_text()

    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise DrsnError(f"template {name} needs a value for {m.group(1)}")
        return str(values[m.group(1)])

    return re.sub(r"\{\{([A-Z_]+)\}\}", sub, text)


def c_double(v: float) -> str:
    text = repr(float(v))
    return text if any(c in text for c in ".e") else text + ".0"


def c_array(name: str, const: Const, label: str) -> str:
    fmt = c_double if const.ctype == "double" else str
    items = [fmt(v) for v in const.values]
    lines = [", ".join(items[i:i + 16]) for i in range(0, len(items), 16)]
    return (f"/* {label} */\nstatic const {const.ctype} {name}[{len(items)}] = {{\n    " + ",\n    ".join(lines)
            + "\n};")


class Emitter:
    """Collects constant arrays and parameter structs while formatting the steps."""

    def __init__(self, graph: Graph, arena: ArenaPlan) -> None:
        self.graph, self.arena = graph, arena
        self.arrays: list[str] = []
        self.structs: list[str] = []
        self.tensor_arrays: dict[int, str] = {}

    def array(self, const: Const, label: str) -> str:
        name = f"drsn_c{len(self.arrays)}"
        self.arrays.append(c_array(name, const, label))
        return name

    def tensor(self, index: int) -> str:
        """A kernel argument: an arena slice, or a constant operand's array."""
        t = self.graph.tensors[index]
        if not t.is_const:
            return f"a + {self.arena.offsets[index]}"
        if index not in self.tensor_arrays:
            label = f"tensor {t.name}".replace("*/", "* /")
            self.tensor_arrays[index] = self.array(Const("int8_t", t.data.ravel().tolist()), label)
        return self.tensor_arrays[index]

    def value(self, v: object, label: str) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, Const):
            return self.array(v, label)
        if isinstance(v, list):
            return "{" + ", ".join(str(int(x)) for x in v) + "}"
        return str(int(v))

    def step(self, i: int, s: Step) -> str:
        if s.kernel is None:
            return f"    /* {i}: {s.op} (aliases its input) */"
        name = f"drsn_p{i}"
        fields = ", ".join(f".{k} = {self.value(v, f'op {i} {s.op}: {k}')}" for k, v in s.params.items())
        self.structs.append(f"static const {s.ptype} {name} = {{{fields}}};")
        args = ", ".join(self.tensor(t) for t in s.inputs)
        return f"    {s.kernel}(&{name}, {args}, a + {self.arena.offsets[s.output]}); /* {i}: {s.op} */"


def emit(graph: Graph, steps: list[Step], arena: ArenaPlan, info: dict) -> dict[str, str]:
    """File name -> generated text, for drsn_model.h, drsn_model.c and the Makefile."""
    em = Emitter(graph, arena)
    calls = "\n".join(em.step(i, s) for i, s in enumerate(steps))
    inp, out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    pre = info["preprocessing"]
    values = {
        "SOURCE": info["source"], "MODEL_NAME": info["name"], "WINDOW_LENGTH": pre["window_length"],
        "NUM_CLASSES": len(info["classes"]), "ARENA_BYTES": arena.size, "LOWER_BOUND": arena.lower_bound,
        "INPUT_SCALE": repr(float(inp.scale)), "INPUT_ZERO_POINT": inp.zero_point,
        "OUTPUT_SCALE": repr(float(out.scale)), "OUTPUT_ZERO_POINT": out.zero_point, "NUM_OPS": len(steps),
        "NORMALISATION": NORMALISATIONS[pre["normalisation"]], "NORMALISATION_NAME": pre["normalisation"],
        "MEAN": c_double(pre["mean"]), "STD": c_double(pre["std"]), "EPS": c_double(pre["eps"]),
        "CLASS_NAMES": ", ".join(json.dumps(c) for c in info["classes"]),
        "INPUT_OFFSET": arena.offsets[graph.inputs[0]], "OUTPUT_OFFSET": arena.offsets[graph.outputs[0]],
        "STEPS": calls, "CFLAGS": HOST_CFLAGS,
    }
    values["CONSTANTS"] = "\n".join(em.arrays)
    values["PARAMS"] = "\n".join(em.structs)
    return {"drsn_model.h": render("drsn_model.h.in", values), "drsn_model.c": render("drsn_model.c.in", values),
            "Makefile": render("Makefile.in", values)}
