"""Mutate a real int8 .tflite and hold the C engine to: refuse cleanly, or build, run clean and match LiteRT.

Shared by tests/hostile/test_fuzz_tflite.py (a bounded hypothesis run) and
benchmarks/fuzz_tflite.py (many more). A mutation is a list of edits, each a
byte flip of the file or a structural edit of the parsed flatbuffer (a shape
dimension, an op's tensor index, a scale, a zero point, a buffer's length, a
per-channel array's length, an op option). The engine that accepts a model is
built with -Wall -Wextra -Werror and -fsanitize=address,undefined, with every
activation in its own arena slot between 32-byte canaries that must survive
each inference; where LiteRT's reference kernels also accept the model, the
int8 logits must be identical.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drsn_edge.errors import DrsnError
from firmware_export.c_engine.arena import ArenaPlan, buffers
from firmware_export.c_engine.emit import emit
from firmware_export.c_engine.sources import CSRC, library_files
from firmware_export.c_engine.target import compile_model
from quantize.tflite.graph import read_model, write_model

DATA = Path(__file__).resolve().parent / "data" / "tiny_build"
GUARD = 32
CANARY = 0xA5
# float-cast-overflow: GCC's "undefined" leaves out the double -> int32 conversion FULLY_CONNECTED makes
CFLAGS = ("-std=c99 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined,float-cast-overflow "
          "-fno-sanitize-recover=all -fno-omit-frame-pointer")
SCALES = (0.0, -1.0, float("nan"), float("inf"), 1e-38, 1e38, 1e-12, 1e12, 3.0, 0.5)
EDITS = ("flip", "shape", "index", "scale", "zero_point", "buffer", "per_channel", "option")


@dataclass
class Outcome:
    kind: str  # "refused", "litert-refused" (engine ran clean), "bit-exact"
    detail: str = ""


def apply_edits(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """``data`` with each (kind, where, value) edit applied; ``where`` and ``value`` are reduced to the target."""
    for kind, where, value in edits:
        if kind == "flip":
            raw = bytearray(data)
            raw[where % len(raw)] ^= 1 + value % 255
            data = bytes(raw)
            continue
        try:
            model = read_model(data)
        except DrsnError:
            return data  # an earlier flip already broke the file: nothing structural left to edit
        _structural(model, kind, where, value)
        try:
            data = write_model(model)
        except (TypeError, ValueError, OverflowError):  # the edit is not representable in the schema: skip it
            continue
    return data


def _structural(model, kind: str, where: int, value: int) -> None:
    sub = model.subgraphs[0]
    tensor = sub.tensors[where % len(sub.tensors)]
    op = sub.operators[where % len(sub.operators)]
    if kind == "shape" and tensor.shape is not None and len(tensor.shape):
        tensor.shape[value % len(tensor.shape)] = (value // 7) % 9 - 1  # -1 ... 7
    elif kind == "index":
        items = op.inputs if value % 2 or op.outputs is None else op.outputs
        if items is not None and len(items):
            items[value % len(items)] = (value // 3) % (len(sub.tensors) + 3) - 1
    elif kind in ("scale", "zero_point", "per_channel") and tensor.quantization is not None:
        q = tensor.quantization
        if kind == "scale" and q.scale is not None and len(q.scale):
            q.scale = np.array(q.scale, np.float32)
            q.scale[value % len(q.scale)] = SCALES[value % len(SCALES)]
        elif kind == "zero_point" and q.zeroPoint is not None and len(q.zeroPoint):
            q.zeroPoint[value % len(q.zeroPoint)] = (value % 600) - 300
        elif kind == "per_channel" and q.scale is not None and len(q.scale) > 1:
            keep = value % len(q.scale)
            q.scale, q.zeroPoint = q.scale[:keep], None if q.zeroPoint is None else q.zeroPoint[:keep]
    elif kind == "buffer":
        buf = model.buffers[tensor.buffer % len(model.buffers)]
        if buf.data is not None and len(buf.data):
            buf.data = buf.data[: value % len(buf.data)]
    elif kind == "option" and op.builtinOptions is not None:
        names = sorted(k for k, v in vars(op.builtinOptions).items() if isinstance(v, (int, bool)))
        if names:
            name = names[value % len(names)]
            old = getattr(op.builtinOptions, name)
            setattr(op.builtinOptions, name, bool(value % 2) if isinstance(old, bool) else (value // 5) % 6 - 1)


def guarded_plan(graph, steps) -> ArenaPlan:
    """Every activation buffer in its own slot, GUARD canary bytes before and after each."""
    bufs = buffers(graph, steps)
    offset = GUARD
    for b in bufs:
        b.offset = offset
        offset += b.size + GUARD
    return ArenaPlan({t: b.offset for b in bufs for t in b.tensors}, offset, 0, bufs)


def _harness(plan: ArenaPlan, n_classes: int) -> str:
    """A main that checks the canaries around every slot after each window (and exits 3 if one changed)."""
    gaps, end = [], 0
    for b in sorted(plan.buffers, key=lambda b: b.offset):
        gaps.append((end, b.offset))
        end = b.offset + b.size
    gaps.append((end, plan.size))
    table = ", ".join(f"{{{a}, {b}}}" for a, b in gaps)
    return f"""
#include <stdio.h>
#include <string.h>
extern int8_t *drsn_fuzz_arena(void);
static const long gaps[][2] = {{{table}}};
int main(int argc, char **argv)
{{
    static float window[DRSN_WINDOW_LENGTH];
    int8_t logits[DRSN_NUM_CLASSES];
    FILE *in, *out;
    size_t g, k;
    if (argc != 3 || (in = fopen(argv[1], "rb")) == NULL || (out = fopen(argv[2], "wb")) == NULL) return 2;
    while (fread(window, sizeof(float), DRSN_WINDOW_LENGTH, in) == DRSN_WINDOW_LENGTH) {{
        memset(drsn_fuzz_arena(), {CANARY}, DRSN_ARENA_BYTES);
        drsn_classify(window, logits);
        for (g = 0; g < sizeof gaps / sizeof gaps[0]; ++g)
            for (k = (size_t)gaps[g][0]; k < (size_t)gaps[g][1]; ++k)
                if ((unsigned char)drsn_fuzz_arena()[k] != {CANARY}) {{
                    fprintf(stderr, "canary at arena byte %lu overwritten\\n", (unsigned long)k);
                    return 3;
                }}
        fwrite(logits, 1, DRSN_NUM_CLASSES, out);
    }}
    fclose(in);
    return fclose(out) != 0;
}}
"""


class EngineFuzzer:
    """Keeps the kernels compiled once (with the sanitizers) and checks one mutated model at a time."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.base = (DATA / "model_int8.tflite").read_bytes()
        info = __import__("json").loads((DATA / "model.json").read_text())
        self.pre = info["preprocessing"]
        self.classes = info["classes"]
        self.cc = shlex.split(os.environ.get("CC", "cc"))
        self.objects = self._kernels()
        rng = np.random.default_rng(0)
        self.windows = rng.normal(0, 1, (2, self.pre["window_length"])).astype(np.float32)

    def _kernels(self) -> list[str]:
        lib = self.workdir / "lib"
        lib.mkdir(parents=True, exist_ok=True)
        for name in library_files():
            shutil.copyfile(CSRC / name, lib / name)
        objects = []
        for source in sorted(p for p in lib.glob("*.c") if p.name != "drsn_main.c"):
            obj = source.with_suffix(".o")
            subprocess.run([*self.cc, *CFLAGS.split(), "-c", str(source), "-o", str(obj)], check=True,
                           capture_output=True)
            objects.append(str(obj))
        return objects

    def check(self, data: bytes) -> Outcome:
        """Refused with a DrsnError, or built and run clean (and bit-exact where LiteRT runs it)."""
        try:
            graph, steps, _ = compile_model(data)
        except DrsnError as exc:
            return Outcome("refused", str(exc))
        plan = guarded_plan(graph, steps)
        inp = graph.tensors[graph.inputs[0]]
        n_out = graph.tensors[graph.outputs[0]].size
        pre = {**self.pre, "window_length": inp.size}
        files = emit(graph, steps, plan, {"source": "fuzz.tflite", "name": "fuzz", "classes": [str(i) for i in
                                                                                              range(n_out)],
                                          "preprocessing": pre})
        work = self.workdir / "case"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for name in ("drsn_model.h", "drsn_model.c"):
            (work / name).write_text(files[name])
        with open(work / "drsn_model.c", "a") as f:
            f.write("\nint8_t *drsn_fuzz_arena(void) { return drsn_arena; }\n")
        (work / "main.c").write_text('#include "drsn_model.h"\n' + _harness(plan, n_out))
        build = subprocess.run([*self.cc, *CFLAGS.split(), f"-I{work}", f"-I{self.workdir / 'lib'}", "-o",
                                str(work / "engine"), str(work / "drsn_model.c"), str(work / "main.c"),
                                *self.objects, "-lm"], capture_output=True, text=True)
        if build.returncode != 0:
            raise AssertionError(f"accepted model does not compile: {build.stderr[-2000:]}")
        windows = np.resize(self.windows, (2, inp.size)).astype("<f4")
        windows.tofile(work / "in.f32")
        run = subprocess.run([str(work / "engine"), str(work / "in.f32"), str(work / "out.i8")],
                             capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise AssertionError(f"engine exit {run.returncode}: {run.stderr[-2000:]}")
        logits = np.fromfile(work / "out.i8", np.int8).reshape(2, n_out)
        ref = self._litert(data, graph, windows)
        if ref is None:
            return Outcome("litert-refused")
        if ref.size != logits.size:  # LiteRT computed another output shape: the engine ran another graph
            raise AssertionError(f"engine writes {n_out} logits per window, LiteRT {ref.size // 2}")
        if not np.array_equal(ref.reshape(logits.shape), logits):
            raise AssertionError(f"engine differs from LiteRT: {logits.tolist()} vs {ref.tolist()}")
        return Outcome("bit-exact")

    def _litert(self, data: bytes, graph, windows: np.ndarray) -> np.ndarray | None:
        """LiteRT reference kernels on the same int8 input, or None when LiteRT refuses the model."""
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        from drsn_edge.int8_input import Int8Input
        from drsn_edge.preprocess import Preprocessing
        from quantize.quiet import quiet_native

        inp = graph.tensors[graph.inputs[0]]
        x = Int8Input(Preprocessing(**{**self.pre, "window_length": inp.size}), inp.scale,
                      inp.zero_point).from_float(windows)
        try:
            with quiet_native():
                interp = Interpreter(model_content=data,
                                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
                interp.allocate_tensors()
                detail = interp.get_input_details()[0]
                outs = []
                for row in x:
                    interp.set_tensor(detail["index"], row.reshape(detail["shape"]))
                    interp.invoke()
                    outs.append(interp.get_tensor(interp.get_output_details()[0]["index"]).ravel().copy())
        except Exception:  # LiteRT's own refusal: the engine only had to run clean
            return None
        return np.array(outs)


def reason(detail: str) -> str:
    """A refusal's message with names, lists and numbers blanked: refusals of the same check count together."""
    return re.sub(r"'[^']*'|\[[^\]]*\]|(?<!\w)-?\d[\w.+-]*", "#", detail)[:90]


def describe(edits: list[tuple[str, int, int]]) -> str:
    return "; ".join(f"{k}@{w}={v}" for k, w, v in edits) if edits else "none"
