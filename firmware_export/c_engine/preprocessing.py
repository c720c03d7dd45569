"""The ``drsn_preprocessing`` initializer of a model, for the C engine and the TFLite Micro export.

One positional initializer (valid C99 and C++) holds what ``drsn_preprocess.c``
needs: the float definition's constants for ``global``/``none`` and the integer
ones (1 / input scale and eps as mantissa and exponent) for ``window``, computed
by :mod:`drsn_edge.int8_input`, so C never converts a float to get them.
"""
from __future__ import annotations

from drsn_edge.int8_input import Int8Input
from firmware_export.c_engine.sources import NORMALISATIONS
from firmware_export.c_literals import Code, c_double, c_float


def c_preprocessing(spec: Int8Input) -> Code:
    """``{window_length, normalisation, mean, std, input_scale, input_zero_point, inv_scale_m, inv_scale_e,
    eps_m, eps_e}`` for ``spec``."""
    p = spec.pre
    inv_m, inv_e = spec.inv_scale
    eps_m, eps_e = spec.eps
    fields = [str(p.window_length), NORMALISATIONS[p.normalisation], c_double(p.mean), c_double(p.std),
              c_float(spec.scale), str(int(spec.zero_point)), str(inv_m), str(inv_e), str(eps_m), str(eps_e)]
    return Code("{" + ", ".join(fields) + "}")
