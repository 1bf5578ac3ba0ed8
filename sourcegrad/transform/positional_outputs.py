"""NumPy outputs given by position, written as ``out=``.

``np.multiply(y, 2.0, y)``, ``np.sum(a, 0, None, y)`` and ``np.add.reduce(a, 0, None, y)``
write into ``y`` exactly as ``out=y`` does. Every pass that follows writes reads the ``out``
keyword, so the parser moves an output given by position into that keyword once, before any
pass looks.
"""

from __future__ import annotations

import inspect

import gast
import numpy as np

from . import syntax as S


def outputs_as_keywords(node: gast.FunctionDef, resolved) -> None:
    """Rewrite, in place, each call of a NumPy function or ufunc in ``node`` whose output is
    given by position into the same call with ``out=`` (``np.divmod(a, b, q, r)`` becomes
    ``np.divmod(a, b, out=(q, r))``). ``resolved(expr)`` is the live object ``expr`` names, or
    anything else where it names none. Calls with starred arguments are left as written."""
    for call in S.nodes_of(node, (gast.Call,)):  # (not gast.walk: every context node too)
        if len(call.args) < 2:
            continue
        if not isinstance(call.func, (gast.Name, gast.Attribute)):
            continue
        if any(isinstance(a, gast.Starred) for a in call.args):
            continue
        fn = resolved(call.func)
        at = _output_position(fn, len(call.args))
        if at is None:
            continue
        outputs = call.args[at:]
        call.args = call.args[:at]
        call.keywords.insert(0, gast.keyword(arg="out", value=_output_value(outputs, fn)))


def _output_position(fn, given: int) -> int | None:
    """The index of the first positional argument of ``fn`` that is an output, where
    ``given`` positional arguments reach it; None where none does (or ``fn`` is not NumPy's)."""
    if isinstance(fn, np.ufunc):
        return fn.nin if given > fn.nin else None
    if isinstance(getattr(fn, "__self__", None), np.ufunc):  # (`np.add.reduce`)
        at = _UFUNC_METHOD_OUT.get(getattr(fn, "__name__", None))
        return at if at is not None and given > at else None
    module = getattr(fn, "__module__", None) or ""
    if not callable(fn) or not (module == "numpy" or module.startswith("numpy.")):
        return None
    at = _out_parameter(fn)
    return at if at is not None and given > at else None


#: a ufunc's methods that take ``out``, and its position among their arguments
_UFUNC_METHOD_OUT = {"reduce": 3, "accumulate": 3, "reduceat": 4}
_OUT_AT: dict = {}


def _out_parameter(fn) -> int | None:
    """The position of ``fn``'s parameter ``out`` where it may be given by position."""
    try:
        return _OUT_AT[fn]
    except (KeyError, TypeError):
        pass
    at = None
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for i, p in enumerate(parameters):
        if p.kind not in positional:
            break
        if p.name == "out":
            at = i
            break
    try:
        _OUT_AT[fn] = at
    except TypeError:
        pass
    return at


def _output_value(outputs: list, fn):
    """``out=``'s value for the outputs given by position: the one output, or the tuple of a
    ufunc's outputs (as long as its outputs, ``None`` for those not given)."""
    count = fn.nout if isinstance(fn, np.ufunc) else 1
    if count == 1 and len(outputs) == 1:
        return outputs[0]
    missing = [gast.Constant(value=None, kind=None) for _ in range(count - len(outputs))]
    return gast.Tuple(elts=list(outputs) + missing, ctx=gast.Load())


#: array methods that take ``out``, and its position among their arguments (None: by keyword)
OUT_METHODS = {
    "sum": 2, "mean": 2, "prod": 2, "cumsum": 2, "cumprod": 2, "std": 2, "var": 2, "clip": 2,
    "take": 2, "compress": 2, "trace": 4, "max": 1, "min": 1, "any": 1, "all": 1, "argmax": 1,
    "argmin": 1, "round": 1, "dot": 1, "choose": 1, "ptp": 1, "conj": None, "conjugate": None,
}  # fmt: skip


def array_method_call(call, local_names) -> bool:
    """Whether ``call`` is a method taking ``out`` (``OUT_METHODS``) of a value the function
    computes: a name it binds, an item or attribute of one, or an expression (``(x * x)``);
    of a global or a module's name the method may be anything's."""
    func = call.func
    if not isinstance(func, gast.Attribute) or func.attr not in OUT_METHODS:
        return False
    root = func.value
    while isinstance(root, (gast.Attribute, gast.Subscript)):
        root = root.value
    return not isinstance(root, gast.Name) or root.id in local_names


def method_output_by_position(call, local_names):
    """The output an array method's call gives by position (``z.sum(0, None, y)``), else
    None."""
    if not isinstance(call, gast.Call) or not array_method_call(call, local_names):
        return None
    at = OUT_METHODS[call.func.attr]
    if at is None or len(call.args) <= at:
        return None
    if any(isinstance(a, gast.Starred) for a in call.args[: at + 1]):
        return None
    return call.args[at]
