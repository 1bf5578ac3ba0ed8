"""Derivatives an export meets only while its code runs: of function values, and forward mode
over a derivative.

Generated code differentiates a call of a function *value* (a lambda, a nested ``def``, a layer
object from a list, a NumPy function from a dict) through ``vjp_of(fn, wrt)`` /
``jvp_of(fn, wrt)``, and a derivative of order 2 and up calls ``jvp_of(vjp, wrt)`` over a
helper's vjp or a function value's: which derivative runs is decided by the objects they get.
:func:`traced` runs the derivative once and records every build those made and ran; the export
writes each one (:class:`sourcegrad.export_writer.Writer`) and puts
:data:`~sourcegrad.export_runtime.RUNTIME` in the module: ``vjp_of`` / ``jvp_of`` of its own
that resolve a function value the way :mod:`sourcegrad.function_values` does (a bound method
or an object with ``__call__`` as its function with the object first, the object itself
differentiated where ``wrt`` holds ``"self"``; a call with keyword arguments, or of a function
taking ``*args`` or ``**kwargs``, bound to the parameters, defaults filled in from the value
itself, the variable arguments packed into one tuple and one dict) and pick, from the tables
the export fills, the build made for that function, mode, ``wrt`` and the arguments'
signature (``FUNCTION_VALUES``, ``FUNCTION_JVPS``; forward mode over a function value's
derivative in ``VALUE_JVPS``, over a helper's in ``DERIVATIVE_JVPS``). A function is known by
its code object where the export defines it (a lambda or nested ``def`` of the exported code,
found again by its place among the code's nested code objects, :func:`code_path`; a function
or class of the user's the export copies), else by its module and qualified name (a method of
the user's class, whose objects come with the arguments), and a NumPy function by itself. The
variables a function value reads from an enclosing function are read from the value when the
export runs (each build is made by a factory taking them).

A gradient the function takes while it runs (a MAML loss: ``g = sg.grad(mse)(p, xs, ys)``,
then the loss at parameters moved along ``g``) is differentiated through ``vjp_of(g_1, wrt)``,
the vjp of a gradient: a Hessian-vector product, forward mode over the inner gradient
(:class:`sourcegrad.higher.GradientVjp`); in forward mode through ``jvp_of(g_1, wrt)``, forward
mode over the gradient, and at order 2 and up through both and forward mode over the vjp (and
over forward mode over either, at order 3 and up). The module
holds no sourcegrad, so the name the function reads it by (``sg``, or ``grad`` imported from
it) is bound to ``Gradients`` (:data:`~sourcegrad.export_runtime.GRADIENTS_STAND_IN`), whose
``grad(f, wrt)`` hands out the build of the gradient that ran, ``grad_<f>``; a gradient made
before the function runs (a global ``D = sg.grad(f)``) is bound to it too. The build of its vjp
that ran, ``vjp_grad_<f>``, is in ``FUNCTION_VALUES`` for the export's ``vjp_of``; forward mode
over the gradient in ``DERIVATIVE_JVPS``, over its vjp in ``VALUE_JVPS``, for its ``jvp_of``
(:func:`write_gradients`). A gradient of a gradient taken inside (``sg.grad(sg.grad(f))(s)``)
is ``grad_grad_<f>``, the order-2 derivative of ``f`` (its tower's outermost level, the unit
seed filled in as the tower fills it), keyed in ``GRADIENTS`` by the stand-in of ``grad(f)``
(written as not reached where only the gradient of it ran); its vjp, ``vjp_grad_grad_<f>``,
is the order-3 derivative along ``g_out``. A mixed partial (``sg.grad(sg.grad(g), wrt=1)`` of
``g(a, b)``, or ``wrt=(0, 1)``) is the tower's level along all the arguments it reads, each
picking the ones read (:func:`~sourcegrad.export_text.tower_result`).

Refused (:mod:`sourcegrad.export_keys`), naming the user's line: forward mode over the
derivative of a function value with keyword-only defaults, a ``functools.partial`` called as a
function value; a derivative made by sourcegrad before the function runs whose derivative did
not run, and a gradient (or a gradient of a gradient) taken inside it where no derivative
flows through it, of a method, of a function with ``*`` or ``**`` parameters, or called with
arguments of several signatures (a plain gradient along several arguments is refused in
process). The gradient of a function with
defaults or keyword-only parameters, and its vjp, take them as the function does (``def
grad_f(z, p=3.0)``); forward mode over either fills in the defaults the call leaves out (as
literals over the gradient, from the stand-in over its vjp: ``filled(function, args)``).
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .arguments import with_defaults
from .callables import copy_if_written
from .derivative import Transformed, recording_runs
from .export_keys import check_jvp_base
from .export_source import ExportError, global_read_line, is_public_grad
from .export_text import (
    describe,
    describe_value,
    flat_values,
    not_reached,
    tower_result,
    values_text,
    with_def_line,
)
from .function_values import jvp_of, vjp_of
from .higher import GradientVjp, Jvp, NestedGrad, recording_jvps, tower

__all__ = [
    "Trace", "code_path", "held_derivatives", "is_resolver", "jvp_depth", "jvp_groups",
    "gradients_taken", "of_gradient", "root_of", "take_gradients", "traced",
    "write_gradients",
]  # fmt: skip


@dataclass
class Trace:
    """What one run of a derivative made and ran: ``runs``, ``[(derivative, its arguments in
    parameter order, the build that ran)]`` for every derivative object generated code called
    (helpers' vjps, function values'); ``jvps``, ``[(the Jvp, the arguments it got, its
    build's pure function, the function's arguments)]`` for forward mode over a helper's vjp (order 2 and up);
    ``gradient_vjps``, ``[(the GradientVjp, its arguments, the seed last)]`` for the vjp of each
    gradient the function takes while it runs; ``codes``, the code objects of every Python
    function that ran (which methods of a library class an export copies).
    """

    runs: list = field(default_factory=list)
    jvps: list = field(default_factory=list)
    gradient_vjps: list = field(default_factory=list)
    codes: set = field(default_factory=set)


def traced(call: Callable[[], Any]) -> Trace:
    """``call()`` run once, recording what it runs (see :class:`Trace`)."""
    found = Trace()

    def run(t, args, entry):
        found.runs.append((t, args, entry))

    def jvp(jv, args, fn, values):
        if isinstance(jv, GradientVjp):
            found.gradient_vjps.append((jv, args))
        else:
            found.jvps.append((jv, args, fn, values))

    def profile(frame, event, arg):
        if event == "call":
            found.codes.add(frame.f_code)

    old = sys.getprofile()
    sys.setprofile(profile)
    try:
        with recording_runs(run), recording_jvps(jvp):
            call()
    finally:
        sys.setprofile(old)
    return found


def is_resolver(value: Any) -> bool:
    """Whether generated code reads ``value`` as ``vjp_of`` / ``jvp_of``: the derivative of a
    function value, resolved when the code runs, or as ``copy_if_written``."""
    return value is vjp_of or value is jvp_of or value is copy_if_written


def code_path(outer: types.CodeType, inner: types.CodeType) -> tuple | None:
    """The positions, among the nested code objects at each level, that lead from ``outer`` to
    ``inner`` (``(0,)``: the first function ``outer`` defines); None where ``inner`` is not
    nested in ``outer``."""
    nested = [c for c in outer.co_consts if isinstance(c, types.CodeType)]
    for k, code in enumerate(nested):
        if code is inner:
            return (k,)
        deeper = code_path(code, inner)
        if deeper is not None:
            return (k, *deeper)
    return None


def held_derivatives(fns: list) -> set:
    """The ids of the derivatives the generated functions ``fns`` hold in their closures:
    helpers' (a function value's derivative is resolved when the code runs instead)."""
    found = set()
    for fn in fns:
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, Transformed):
                found.add(id(value))
    return found


def root_of(jv) -> Transformed:
    """The derivative at the bottom of the forward mode ``jv`` (over forward mode...); for
    the vjp of a gradient taken while the function runs, that gradient."""
    while not isinstance(jv, Transformed):
        jv = jv.gradient if isinstance(jv, GradientVjp) else jv.base
    return jv


def jvp_depth(jv) -> int:
    return 0 if isinstance(jv, (Transformed, GradientVjp, NestedGrad)) else 1 + jvp_depth(jv.base)


# ---------------------------------------------------------------------------- forward mode over derivatives
def jvp_groups(jvps: list, key_of: Callable, user: Callable) -> dict:
    """``{key: (a jvp, [(arguments, the build that ran, how many values it takes)])}``: the
    recorded forward modes over derivatives (:class:`~sourcegrad.export_values.Trace`) by
    ``key_of(jvp)``, each build once; refused where a call left arguments out or the calls
    of one key passed tangents of several kinds."""
    groups: dict = {}
    for jv, args, fn, values in jvps:
        base = check_jvp_base(jv, user)
        flat = flat_values(jv, args)
        if len(flat) != len(values) or any(not _same(a, b) for a, b in zip(flat, values)):
            raise ExportError(
                f"forward mode over {base.__name__}, called without every argument: an "
                "export of order 2 and up writes helpers called with every argument"
            )
        group = groups.setdefault(key_of(jv), (jv, []))[1]
        if all(ran is not fn for _, ran, _ in group):
            group.append((args[:-1], fn, len(values)))
        if values_text(jv, args[:-1]) != values_text(jv, group[0][0]):
            raise ExportError(f"forward mode over {base.__name__} along tangents of several kinds")
    return groups


def _same(a: Any, b: Any) -> bool:
    """``a`` is ``b``, or both are the same unit seed (a tower fills one in anew each call)."""
    if a is b:
        return True
    units = [type(x) is np.ndarray and x.ndim == 0 and x == 1 for x in (a, b)]
    return all(units) and a.dtype == b.dtype


# ---------------------------------------------------------------------------- gradients taken inside
_PACKING = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def of_gradient(jv: Any) -> bool:
    """Whether the forward mode ``jv`` (over forward mode...) transforms a gradient the
    function takes while it runs, or that gradient's vjp."""
    while isinstance(jv, Jvp):
        jv = jv.base
    return isinstance(jv, (GradientVjp, NestedGrad)) or (
        isinstance(jv, Transformed) and jv.mode == "grad"
    )


def _taken(vjp: GradientVjp) -> Any:
    """The gradient (or gradient of a gradient, ``grad(grad(f))``) ``vjp`` is the vjp of."""
    return vjp.gradient if vjp.gradient is not None else vjp.nested


def gradients_taken(trace: Trace) -> list:
    """The gradients (and gradients of gradients) the function traced takes while it runs
    (``sg.grad(f)`` inside it, or made before it runs) whose derivatives ran."""
    found: dict = {}
    for vjp, _ in trace.gradient_vjps:
        found[id(_taken(vjp))] = _taken(vjp)
    for jv, *_ in trace.jvps:
        while isinstance(jv, Jvp):
            jv = jv.base
        d = _taken(jv) if isinstance(jv, GradientVjp) else jv
        if isinstance(d, NestedGrad) or (isinstance(d, Transformed) and d.mode == "grad"):
            found[id(d)] = d
    return [d for d in found.values() if d is not None]


def _taken_name(d: Any) -> str:
    """``grad_f`` for a gradient of ``f``, ``grad_grad_f`` for a gradient of its gradient."""
    if isinstance(d, NestedGrad):
        return "grad_" * (len(d.tower.dirs) + 1) + _identifier(d.tower.f)
    return f"grad_{_identifier(d.f)}"


def _identifier(f: Any) -> str:
    """``f``'s name, ``lambda_`` for a lambda's (``<lambda>``)."""
    return f.__name__ if f.__name__.isidentifier() else "lambda_"


def take_gradients(writer: Any, stand_in: str) -> None:
    """Where the function ``writer`` exports takes gradients while it runs (``sg.grad(f)``
    inside it, or a global made by ``sg.grad`` before), ``sg`` (or ``grad``) reads
    ``stand_in``, the stand-in for sourcegrad, and each gradient is known by the name it is
    written under."""
    taken = gradients_taken(writer.trace)
    if not taken:
        return
    writer.ns.stand_in = stand_in
    names: dict = {}  # one name for the gradients of one function along one wrt
    for d in taken:
        key = _gradient_key(d)
        if key not in names:
            names[key] = writer.ns.free_name(_taken_name(d), d)
            writer.ns.claim(names[key], d, "a gradient taken while the function runs")
        writer.ns.gradients[id(d)] = names[key]


def write_gradients(writer: Any, trace: Trace) -> set:
    """Write, with ``writer`` (:class:`sourcegrad.export_writer.Writer`), each gradient taken while
    the function runs whose derivative ran (its vjp, a Hessian-vector product, in reverse
    mode; forward mode over it, and over its vjp, at order 2 and up), and those derivatives,
    in the module's tables: ``GRADIENTS`` for ``Gradients.grad``, ``FUNCTION_VALUES`` for the
    export's ``vjp_of``, ``DERIVATIVE_JVPS`` and ``VALUE_JVPS`` for its ``jvp_of``. The ids of
    the forward modes written (the writer leaves them out of the function values')."""
    jvps = [item for item in trace.jvps if of_gradient(item[0])]
    vjps = list(trace.gradient_vjps)
    gradients: dict = {}  # (function, wrt) -> (the gradient, its arguments)
    for jv, args, _, _ in jvps:
        while isinstance(jv, Jvp):
            jv, args = jv.base, args[:-1]
        if isinstance(jv, GradientVjp):  # its vjp ran inside forward mode over it
            vjps.append((jv, args))
        else:
            _one_signature(writer, gradients, jv, args)
    towers: dict = {}  # id(the tower of a vjp) -> (the vjp, its arguments)
    for vjp, args in vjps:
        if _taken(vjp) is None:
            raise _refused(writer, vjp.tower, "is a derivative sourcegrad made of another kind")
        _one_signature(writer, gradients, _taken(vjp), args[:-1])
        towers.setdefault(id(vjp.tower), (vjp, args))
    hvps: dict = {}  # id(the tower of a vjp) -> the name of its wrapper
    names: dict = {}  # _gradient_key -> the name it is written under
    for key, (d, args) in sorted(gradients.items(), key=lambda item: _order(item[1][0])):
        write = _write_nested if isinstance(d, NestedGrad) else _write_one
        names[key] = write(writer, d, args, towers, hvps, names)
    wrappers: dict = {}  # _jvp_key of a forward mode -> its wrapper's name
    for depth in sorted({jvp_depth(item[0]) for item in jvps}):  # the inner ones first
        level = [item for item in jvps if jvp_depth(item[0]) == depth]
        for key, (jv, group) in jvp_groups(level, _jvp_key, writer.user).items():
            base, bottom = jv.base, jv
            while isinstance(bottom, Jvp):
                bottom = bottom.base
            over_vjp = isinstance(bottom, GradientVjp)  # VALUE_JVPS passes the gradient first
            if isinstance(base, Jvp):
                inner = wrappers[_jvp_key(base)]
            else:
                inner = hvps[id(base.tower)] if over_vjp else names[_gradient_key(base)]
            name = writer.jvp_of(jv, key, inner, group, (), function=over_vjp)
            table = "VALUE_JVPS" if over_vjp else "DERIVATIVE_JVPS"
            writer.ns.add_block(f"{table}[({inner}, {key[2]!r})] = {name}")
            wrappers[key] = name
    return {id(item[0]) for item in jvps}


def _gradient_key(d: Any) -> tuple:
    if isinstance(d, NestedGrad):
        t = d.tower
        return _nested_key(t.f, tuple(t.dirs), t.read, t.read_tuple, d.off)
    return (d.f, d.wrt, d.wrt_tuple)


def _nested_key(f, dirs: tuple, read: tuple, read_tuple: bool, off: int) -> tuple:
    """The key of ``grad`` applied ``len(dirs) + 1`` times to ``f`` (along ``dirs``, then
    ``read``): that of the plain gradient for no ``dirs``."""
    return ("nested", f, dirs, read, read_tuple, off) if dirs else (f, read, read_tuple)


def _order(d: Any) -> int:
    """Plain gradients first, then gradients of gradients by their depth: a stand-in is keyed
    by the one below it."""
    return len(d.tower.dirs) if isinstance(d, NestedGrad) else 0


def _jvp_key(jv: Any) -> tuple:
    """What identifies forward mode over a gradient taken inside (or over its vjp, made anew
    at each call, by the tower it evaluates; or over forward mode over one) in an export."""
    base = jv.base
    if isinstance(base, Jvp):
        inner = _jvp_key(base)
    else:
        inner = id(base.tower) if isinstance(base, GradientVjp) else _gradient_key(base)
    return ("jvp", inner, jv.wrt if jv.wrt_tuple else jv.wrt[0])


def _one_signature(writer: Any, gradients: dict, d: Transformed, args: tuple) -> None:
    """Record the gradient ``d`` called with ``args``; refused where it was called with
    arguments of another signature too."""
    got = gradients.setdefault(_gradient_key(d), (d, args))
    if describe_value(got[1]) != describe_value(args):
        raise _refused(writer, d, "is called with arguments of several signatures")


def _write_one(writer: Any, d: Transformed, args: tuple, towers: dict, hvps: dict, _=None) -> str:
    """Write the gradient ``d`` as it ran for ``args``, then the vjps of it in ``towers``
    (their wrappers' names into ``hvps``); the name ``Gradients.grad`` hands out."""
    f, code = d.f, d.f.__code__
    if d.bound_self or len(d.wrt) != 1:
        raise _refused(writer, d, "is a method's or along several arguments")
    if code.co_flags & _PACKING:
        raise _refused(writer, d, "is of a function with * or ** parameters")
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    params, call = _parameters(names, code.co_argcount)
    name = writer.ns.gradients[id(d)]  # claimed by take_gradients
    entry = d.emitted(with_defaults(f, args))
    what = describe(d, "gradient") + f", taken while {writer.user.__name__} runs"
    run = writer.generated(entry.fn, entry.text, f"run_{name}", what)
    text = f"def {name}({params}):\n    return {_packed(d, f'{run}({call})[1]')}\n"
    writer.ns.add_block(
        f"# {name}: what sg.grad({f.__name__}) hands out (Gradients.grad), its gradient only\n"
        + with_def_line(text, name, f.__defaults__, f.__kwdefaults__, what),
        derivative=True,
    )
    key = writer.local_code(code)
    if key is None:
        writer.ns.bind(f.__name__, f, what)
        key = writer.local_code(code)
    _tables(writer, d, name, names, towers, hvps, key, d.wrt if d.wrt_tuple else d.wrt[0])
    return name


def _tables(writer, d, name: str, names: tuple, towers: dict, hvps: dict, key: str, wrt) -> None:
    """Write the vjps of the gradient ``d`` (written as ``name``, of a function of the
    parameters ``names``) in ``towers``, and its entries in ``GRADIENTS`` (at ``key``, the
    code of what ``grad`` is given, and ``wrt``) and ``FUNCTION_VALUES``."""
    tables = []
    for at, (vjp, vargs) in towers.items():
        if _taken(vjp) is d or _gradient_key(_taken(vjp)) == _gradient_key(d):
            hvps[at] = _write_vjp(writer, vjp, vargs, name, names)
            read = vjp.tower.read if vjp.tower.read_tuple else vjp.tower.read[0]
            tables.append(f"FUNCTION_VALUES[({name}.__code__, {read!r})] = {hvps[at]}")
    writer.ns.stand_in_name()  # GRADIENTS, where the function reads no sourcegrad itself
    for block in [f"GRADIENTS[({key}, {wrt!r})] = {name}", *tables]:
        writer.ns.add_block(block)


def _write_nested(writer: Any, d: NestedGrad, args: tuple, towers: dict, hvps: dict, known) -> str:
    """Write the gradient of a gradient ``d`` (``grad(grad(f))``, its tower's outermost
    level, the unit seeds filled in as the tower fills them) as it ran for ``args``, then the
    vjps of it in ``towers``; ``known``: the names of the gradients written before it, the one
    ``grad`` was given among them (or written as not reached where it never ran)."""
    t = d.tower
    f, code = t.f, t.f.__code__
    if t.bound_self:
        raise _refused(writer, d, "is a method's")
    if code.co_flags & _PACKING:
        raise _refused(writer, d, "is of a function with * or ** parameters")
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    params, call = _parameters(names, code.co_argcount)
    name = writer.ns.gradients[id(d)]  # claimed by take_gradients
    primal = with_defaults(f, args)
    entry = t.outermost(t.values(primal, None))
    what = (
        f"the derivative of order {len(t.dirs) + 1} of {f.__qualname__} that runs, taken as "
        f"{name} while {writer.user.__name__} runs"
    )
    run = writer.generated(entry.fn, entry.text, f"run_{name}", what)
    seeds = _unit_seeds(entry.fn, t.dirs, len(t.dirs), names, primal)
    text = f"def {name}({params}):\n" + _returning(t, f"{run}({call}{seeds})")
    writer.ns.add_block(
        f"# {name}: what sg.grad of {_below(writer, d, known)} hands out (Gradients.grad)\n"
        + with_def_line(text, name, f.__defaults__, f.__kwdefaults__, what),
        derivative=True,
    )
    below = f"{_below(writer, d, known)}.__code__"
    _tables(writer, d, name, names, towers, hvps, below, t.read if t.read_tuple else t.read[0])
    return name


def _returning(t: Any, raw: str) -> str:
    """The body returning what the tower ``t`` returns from ``raw``, the call of its
    outermost level (:func:`~sourcegrad.export_text.tower_result`)."""
    if len(t.W) > 1 and t.read_tuple:
        return f"    grads = {raw}\n    return {tower_result(t, 'grads')}\n"
    return f"    return {tower_result(t, raw)}\n"


def _below(writer: Any, d: NestedGrad, known: dict) -> str:
    """The name of the gradient that ``grad`` was given to make ``d``: written where it ran,
    else written here as not reached (its key is all ``d``'s stand-in needs)."""
    t = d.tower
    key = _nested_key(t.f, tuple(t.dirs[:-1]), (t.dirs[-1],), False, d.off)
    if key not in known:
        name = writer.ns.free_name("grad_" * len(t.dirs) + _identifier(t.f), key)
        writer.ns.claim(name, key, "a gradient taken while the function runs")
        writer.ns.add_block(
            f"# {name}: never called here, the key of the gradient of it\n" + not_reached(name),
            derivative=True,
        )
        code = writer.local_code(t.f.__code__)
        if code is None:
            writer.ns.bind(t.f.__name__, t.f, name)
            code = writer.local_code(t.f.__code__)
        if len(t.dirs) > 1:
            code = f"{_below(writer, NestedGrad(tower(t.f, (), t.dirs[:-1], key[3]), d.off), known)}.__code__"
        writer.ns.stand_in_name()
        writer.ns.add_block(f"GRADIENTS[({code}, {t.dirs[-1]!r})] = {name}")
        known[key] = name
    return known[key]


def _unit_seeds(fn, dirs, units: int, names: tuple, primal: tuple) -> str:
    """``, seed=1.0, ...``: the unit seeds of the first ``units`` directions ``dirs`` of a
    tower's level ``fn`` (its keyword-only parameters after the function's own), as
    :meth:`~sourcegrad.higher.Tower.values` fills them in for the arguments ``primal``."""
    code = fn.__code__
    kwnames = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    count = sum(len(d) if isinstance(d, tuple) else 1 for d in dirs)
    seeds = kwnames[len(kwnames) - count :][:units]
    return "".join(
        f", {s}=" + ("1.0" if isinstance(primal[i], float) else f"np.ones_like({names[i]})")
        for s, i in zip(seeds, dirs)
    )


def _write_vjp(writer: Any, vjp: Any, args: tuple, name: str, names: tuple) -> str:
    """Write the build of the vjp of the gradient ``name`` (of a function of the parameters
    ``names``) that ran for ``args`` (forward mode over the gradient, its tangent seeded with
    ``g_out``) and the wrapper the export's ``vjp_of`` calls (the function value first, as it
    passes it, then every parameter: the export's ``vjp_of`` passes defaults by name); the
    wrapper's name."""
    *primal, g_out = args
    t = vjp.tower
    primal = with_defaults(t.f, vjp.bound_self + tuple(primal))
    entry = t.outermost(t.values(primal, vjp.seeds(g_out, primal)))
    fn_code = entry.fn.__code__
    last = t.dirs[-1]  # g_out's direction: its output along several arguments, a joint one
    kwnames = fn_code.co_varnames[: fn_code.co_argcount + fn_code.co_kwonlyargcount]
    params, call = _parameters(names, fn_code.co_argcount)
    call += _unit_seeds(entry.fn, t.dirs, vjp.units, names, primal)
    if isinstance(last, tuple):
        seeds = kwnames[len(kwnames) - len(last) :]
        call += "".join(f", {s}=g_out[{k}]" for k, s in enumerate(seeds))
    else:
        call += f", {kwnames[-1]}={'g_out[0]' if vjp.one_seed_in_a_tuple() else 'g_out'}"
    hvp = f"vjp_{name}"
    writer.ns.claim(hvp, vjp, "the vjp of a gradient taken while the function runs")
    what = f"the build {hvp} runs: forward mode over the pure code of {name}, along g_out"
    made = writer.generated(entry.fn, entry.text, f"run_{hvp}", what)
    writer.ns.add_block(
        f"# {hvp}: the vjp of {name} (vjp_of({name}, wrt)), {_times(t)} times g_out\n"
        f"def {hvp}(function, {', '.join(names)}, *, g_out):\n" + _returning(t, f"{made}({call})"),
        derivative=True,
    )
    return hvp


def _times(t: Any) -> str:
    """What the vjp of a gradient taken inside multiplies its seed by (its tower ``t``)."""
    return "its Hessian" if len(t.dirs) == 1 else f"its derivative of order {len(t.dirs) + 1}"


def _parameters(names: tuple, positional: int) -> tuple[str, str]:
    """The parameter list of a function of the parameters ``names`` (the first
    ``positional`` by position, the rest keyword-only), and the arguments of a call passing
    them on as it takes them."""
    params, call = list(names[:positional]), list(names[:positional])
    if len(names) > positional:
        params += ["*", *names[positional:]]
        call += [f"{k}={k}" for k in names[positional:]]
    return ", ".join(params), ", ".join(call)


def _packed(d: Any, grads: str) -> str:
    """What calling the gradient ``d`` returns, from the expression of its build's gradient:
    a tuple of one for a tuple ``wrt`` (``grad(f, wrt=(0,))``)."""
    return f"({grads},)" if d.wrt_tuple else grads


def _refused(writer: Any, d: Any, why: str) -> ExportError:
    return writer.ns.at_read(
        _module_name(writer, d),
        f"the gradient of {_function(d).__qualname__} that {writer.user.__qualname__} takes "
        "while it "
        f"runs {why}, which an export does not write; take it as grad(f) of a plain function "
        "with its positional parameters, along one argument, or export the function without it",
    )


def _function(d: Any) -> Any:
    """The function ``d`` (a gradient, a gradient of a gradient, a tower) differentiates."""
    return d.tower.f if isinstance(d, NestedGrad) else d.f


def _module_name(writer: Any, d: Any = None) -> str:
    """The global name the exported function reads the gradient ``d`` by (a gradient made
    before it runs), or sourcegrad (or its ``grad``) by: where a refusal points."""
    found = "sourcegrad"
    for name, value in writer.user.__globals__.items():
        if global_read_line(writer.user, name) is None:
            continue
        if d is not None and value is d:
            return name
        if (inspect.ismodule(value) and value.__name__ == "sourcegrad") or is_public_grad(value):
            found = name
    return found
