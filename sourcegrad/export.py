"""``sg.export``: a derivative written out as one standalone module.

The module exported for ``f`` and example arguments holds one public function, ``d_<name>``,
that returns what ``sg.value_and_grad(f, wrt)`` returns for arguments of that signature
(``sg.jvp``'s ``(value, tangent)`` in forward mode), computed by the same code: the
*running* build, the one a derivative runs from its second call with those shapes on
(optimized, specialised to the shapes, with its buffer pools), so the numbers agree with
``value_and_grad`` bit for bit (``order=N``: the tower's, forward mode ``N - 1`` times over
the gradient; ``order=2`` is ``sg.hvp``'s Hessian-vector product). Next to it: the
generated derivative of every helper of the user's that it calls, every derivative its code
resolves while it runs (the vjps and jvps of function values, forward mode over helpers' and
function values' derivatives; :mod:`sourcegrad.export_values`), all found by running the derivative once, the user's
functions the forward sweep calls, every runtime helper and what it reaches of sourcegrad's
library (:mod:`sourcegrad.export_library`), as source, and the globals it reads as literals. It imports NumPy (or CuPy) and the standard
library only, is formatted by black, and starts with a header that says what it
differentiates, for which argument signature, made by which sourcegrad, from which source
(:func:`source_digest`, :func:`is_stale`).
"""

from __future__ import annotations

import inspect
import os
import textwrap
import types
from collections.abc import Callable, Sequence
from typing import Any

from . import derivative as derivative_module
from . import pipeline
from .arguments import with_defaults
from .callables import written_positions
from .derivative import Transformed, derivative
from .disk_cache import is_generated
from .errors import SourcegradError
from .export_keys import check_function_value, function_key, named, unpacked
from .export_library import LibraryNamespace, is_library
from .export_runtime import GRADIENTS_STAND_IN, RUNTIME, runtime_names
from .export_source import ALLOWED_PACKAGES, ExportError, is_standard
from .export_text import (
    LINE_LENGTH,
    callee_wrapper,
    describe,
    describe_value,
    header,
    import_block,
    is_stale,
    jvp_key,
    jvp_wrapper,
    not_reached,
    packing_wrapper,
    public_wrapper,
    rename,
    source_digest,
    taken_when_run,
    unused_results_dropped,
    with_def_line,
)
from .export_values import (
    Trace,
    code_path,
    held_derivatives,
    is_resolver,
    jvp_depth,
    jvp_groups,
    root_of,
    take_gradients,
    traced,
    write_gradients,
)
from .higher import Tower
from .higher.pieces import raised_at
from .outputs import not_aliasing
from .pipeline import as_gradient
from .runtime.buffers import BufferPool
from .runtime.trees import zero_adjoint
from .transform import derive
from .transform.naming import derivative_name

__all__ = ["ExportError", "export", "is_stale", "source_digest"]

#: the modules of sourcegrad whose helpers generated code calls, copied into an export
_RUNTIME = __name__.rpartition(".")[0] + ".runtime"
_SUPPORT = (
    "# " + "-" * 76 + "\n# What the derivative reads: sourcegrad's runtime helpers (copied from "
    "its source),\n# the functions of yours it calls and the globals it reads (their values "
    "when exported).\n"
)


# ---------------------------------------------------------------------------- the writer
class _Writer:
    """The export of one derivative: its generated functions, with what they read, in a
    :class:`Namespace`."""

    def __init__(self, trace: Trace, user: Callable):
        self.ns = LibraryNamespace()
        self.ns.user = user
        self.ns.ran = trace.codes
        self.trace = trace
        self.runs: dict = {}  # id(derivative) -> [(arguments, the build that ran)], each once
        for t, targs, ran in trace.runs:
            got = self.runs.setdefault(id(t), [])
            if all(e is not ran for _, e in got):
                got.append((targs, ran))
        self.written: dict = {}  # id(generated function or derivative) -> its name
        self.values: dict = {}  # id(derivative of a function value) -> its wrapper's name
        self.jvps: dict = {}  # (id(a helper's vjp), wrt) -> the wrapper of forward mode over it
        self.codes: dict = {}  # id(generated function) -> (it, its code in the export)
        self.user = user  # the function exported
        self.user_functions: list = [user]
        self.helpers: set = set()  # ids of helpers' derivatives (generated code holds them)
        self.by_key: dict = {}  # Writer.value_key of a function value's derivative -> wrapper
        self.also: dict = {}  # the key of a function the export copies -> its original key
        self.gradient_jvps: set = set()  # ids of forward modes over gradients taken inside

    def generated(
        self, fn: types.FunctionType, text: str, name: str, what: str, closure=None
    ) -> str:
        """Write the generated function ``fn`` (its source ``text``) as ``name``. A build of a
        function value's derivative (``closure``: the variables it reads from the value) is
        written without defaults (the export's ``vjp_of`` passes the value's own), and where
        it reads variables of the value, as the factory ``make_<name>`` that takes them."""
        got = self.written.get(id(fn))
        if got is not None:
            return got
        name = self.ns.free_name(name, fn)  # vjp_f's 2nd build and vjp_f_2's 1st: run_vjp_f_2
        self.ns.reserved.add(name)
        self.written[id(fn)] = name
        renames, params = {}, []
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            if var in (closure or ()):  # read from the function value when the export runs
                params.append(var)
                continue
            try:
                value = cell.cell_contents
            except ValueError:
                raise ExportError(f"{what} reads {var!r}, which is not set") from None
            target = self.injected(var, value, what)
            if target != var:
                renames[var] = target
        self.ns.read_globals(fn, what)
        text = unused_results_dropped(rename(text, renames))
        if closure is None:
            body = with_def_line(text, name, fn.__defaults__, fn.__kwdefaults__, what)
        else:  # the export's vjp_of passes the function value's defaults
            body = with_def_line(text, name, None, None, what)
        code = f"{name}.__code__"
        if params:
            self.ns.reserved.add(f"make_{name}")
            inner = textwrap.indent(body, "    ")
            body = f"def make_{name}({', '.join(params)}, **_):\n{inner}    return {name}\n"
            code = f"code_at(make_{name}.__code__, (0,))"
        self.codes[id(fn)] = (fn, code)
        self.ns.add_block(f"# {what}\n" + body, derivative=True)
        return name

    def local_code(self, code: types.CodeType) -> str | None:
        """Source for ``code`` where a function the export writes defines it (a lambda or a
        nested ``def`` of generated code, or a function of the user's it copies), else None."""
        for fn, owner in list(self.codes.values()):
            path = code_path(fn.__code__, code)
            if path is not None:
                return f"code_at({owner}, {path!r})"
        for name, value in self.ns.bound.items():  # a function or class the export copies
            if type(value) is types.FunctionType and value.__code__ is code:
                return f"{name}.__code__"
            if isinstance(value, type):
                for attr, member in vars(value).items():
                    if type(member) is types.FunctionType and member.__code__ is code:
                        return f"{name}.{attr}.__code__"
        return None

    def resolver(self, value) -> str:
        """The export's own ``vjp_of`` / ``jvp_of`` (:data:`~sourcegrad.export_runtime.
        RUNTIME`), written once."""
        if "FUNCTION_VALUES" not in self.ns.bound:
            for name in runtime_names():
                self.ns.claim(name, RUNTIME, "the export's vjp_of and jvp_of")
            self.ns.imports.setdefault("import inspect", None)
            self.ns.imports.setdefault("import types", None)
            self.ns.bind("zero_adjoint", zero_adjoint, "jvp_of", zero_adjoint.__module__)
            self.ns.add_block(RUNTIME)
        return value.__name__

    def resolved(self) -> None:
        """Write what generated code resolved when it ran: forward mode over helpers'
        derivatives (their builds' callees are written as they are met), the derivatives of
        function values, then forward mode over those (order 2 and up)."""
        fns = [fn for fn, _ in self.codes.values()] + [e.fn for _, _, e in self.trace.runs]
        self.helpers = held_derivatives(fns + [fn for _, _, fn, _ in self.trace.jvps])
        jvps = [j for j in self.trace.jvps if id(j[0]) not in self.gradient_jvps]
        jvps = sorted(jvps, key=lambda item: jvp_depth(item[0]))  # inner ones first
        self.derivative_jvps([j for j in jvps if id(root_of(j[0])) in self.helpers])
        self.function_values()
        self.value_jvps([j for j in jvps if id(root_of(j[0])) not in self.helpers])

    def function_values(self) -> None:
        """The wrappers of the derivatives of function values: one for each function, mode
        and ``wrt``, running the build made for the arguments' signature (a list of layers
        of several shapes: one build each)."""
        groups: dict = {}
        for t, _, _ in self.trace.runs:
            if id(t) not in self.written and id(t) not in self.helpers:
                groups.setdefault(self.value_key(t), []).append(t)
        for key, ts in groups.items():
            self.function_value(key, ts)

    def value_key(self, t: Transformed) -> tuple:
        """What the derivatives of function values that share a wrapper have in common."""
        check_function_value(t, self.user)
        key = function_key(t.f, self.local_code, self.user)
        if key.endswith(".__code__") and not key.startswith("code_at("):
            f = unpacked(t.f)  # copied: objects that come with the arguments know it by name
            self.also[key] = repr((f.__module__, f.__qualname__))
        return (key, t.mode, t.wrt, t.wrt_tuple)

    def value_wrapper(self, t: Transformed) -> str:
        """The name of the wrapper of the derivative ``t`` of a function value (written
        where no derivative of its kind ran: forward mode over it did)."""
        if id(t) not in self.values:
            key = self.value_key(t)
            if key not in self.by_key:
                self.function_value(key, [t])
            self.values[id(t)] = self.by_key[key]
        return self.values[id(t)]

    def function_value(self, key: tuple, ts: list) -> None:
        """The wrapper of the builds of the derivatives ``ts`` (of one function value, mode
        and ``wrt``: ``key``), in the export's table of them."""
        t = ts[0]
        base = derivative_name(t.mode, t.f, "lambda")
        name = self.ns.free_name(base, t)
        self.ns.claim(name, t, base)
        self.by_key[key] = name
        self.values.update((id(other), name) for other in ts)
        closure = unpacked(t.f).__code__.co_freevars
        entries: list = []
        for other in ts:
            got = self.runs.get(id(other), [])
            entries += [e for e in got if all(e[1] is not r for _, r in entries)]
        if not entries:  # forward mode over it ran, not it
            self.ns.add_block(not_reached(name), derivative=True)
            self.table_entry(key, name)
            return
        runs = []
        for k, (args, entry) in enumerate(entries):
            run = f"run_{name}" + (f"_{k + 1}" if k else "")
            described = f"the function value {t.mode} of {named(t.f, self.user)}" + (
                f", for {describe_value(args)}" if len(entries) > 1 else ""
            )
            made = self.generated(entry.fn, entry.text, run, described, closure)
            runs.append((f"make_{made}(**closure_values(function))" if closure else made, args))
        wrapper = callee_wrapper(name, runs, t, entries[0][1]).replace(
            "(*args,", "(function, *args,", 1
        )
        self.ns.add_block(wrapper, derivative=True)
        if t.mode == "jvp":
            self.ns.bind("not_aliasing", not_aliasing, name)
        self.table_entry(key, name, written_positions(unpacked(t.f)))

    def table_entry(self, key: tuple, name: str, written: dict | None = None) -> None:
        """``name`` in the export's table of the derivatives of function values, at ``key``
        (:meth:`value_key`); what the function changes in place (``written``) in ``WRITTEN``."""
        function, mode, wrt, wrt_tuple = key
        if function.startswith("np."):
            self.ns.add_block(f"RULE_FUNCTIONS.add({function})")
        table = "FUNCTION_VALUES" if mode == "vjp" else "FUNCTION_JVPS"
        for key in (function, self.also.get(function)):
            if key is not None:
                self.ns.add_block(f"{table}[({key}, {wrt if wrt_tuple else wrt[0]!r})] = {name}")
            entry = f"WRITTEN[{key}] = {written!r}\n"  # once for all modes
            if key is not None and written and entry not in self.ns.blocks:
                self.ns.add_block(entry)

    def derivative_jvps(self, jvps: list) -> None:
        """Forward mode over helpers' derivatives (``jvp_of(vjp_helper, wrt)`` in a
        derivative of order 2 and up, and over that again at order 3 and up): for each
        derivative and ``wrt``, a wrapper that runs the build made for the arguments'
        signature, in the export's table of them."""
        for jv_key, (jv, group) in jvp_groups(jvps, jvp_key, self.user).items():
            base = jv.base
            if isinstance(base, Transformed):
                inner = self.callee(base.__name__, base)
            else:
                inner = self.jvps[jvp_key(base)]
            name = self.jvp_of(jv, jv_key, inner, group, ())
            self.ns.add_block(f"DERIVATIVE_JVPS[({inner}, {jv_key[2]!r})] = {name}")

    def value_jvps(self, jvps: list) -> None:
        """Forward mode over the derivatives of function values (``jvp_of(vjp, wrt)`` of what
        ``vjp_of(layer, wrt)`` returned, at order 2 and up, and over that at order 3 and up):
        for each derivative wrapper and ``wrt``, a wrapper taking the function value first
        (what it reads from an enclosing function is read from it), in the export's table of
        them; the inner ones first, as the outer ones are known by the inner ones' names."""
        for level_depth in sorted({jvp_depth(jv) for jv, _, _, _ in jvps}):
            level = [item for item in jvps if jvp_depth(item[0]) == level_depth]
            for key, (jv, group) in jvp_groups(level, self.value_jvp_key, self.user).items():
                closure = unpacked(root_of(jv).f).__code__.co_freevars
                name = self.jvp_of(jv, key, key[0], group, closure)
                self.by_key[key] = name
                self.ns.add_block(f"VALUE_JVPS[({key[0]}, {key[1]!r})] = {name}")

    def value_jvp_key(self, jv) -> tuple:
        """``(the wrapper it transforms, wrt)``: what identifies forward mode over the
        derivative of a function value in the export's table of them."""
        base = jv.base
        if isinstance(base, Transformed):
            inner = self.value_wrapper(base)
        else:
            inner = self.value_jvp_name(base)
        return (inner, jv.wrt if jv.wrt_tuple else jv.wrt[0])

    def value_jvp_name(self, jv) -> str:
        """The wrapper of the forward mode ``jv`` over a function value's derivative, which
        stands in the export's table where the mode over it ran and it did not."""
        key = self.value_jvp_key(jv)
        if key not in self.by_key:
            name = self.ns.free_name(f"jvp_{key[0]}", key)
            self.ns.claim(name, key, key[0])
            self.ns.add_block(not_reached(name), derivative=True)
            self.ns.add_block(f"VALUE_JVPS[({key[0]}, {key[1]!r})] = {name}")
            self.by_key[key] = name
        return self.by_key[key]

    def jvp_of(self, jv, key, inner: str, group: list, closure: tuple, function=None) -> str:
        """The wrapper of forward mode over ``inner`` (its builds ``group``, made for ``jv``
        and the jvps like it), named for it; taking the function value first where the
        derivative is a function value's (``closure``: the variables read from it), or
        where ``function`` says so."""
        name = self.ns.free_name(f"jvp_{inner}", key)
        self.ns.claim(name, key, inner)
        self.ns.reserved.add(name)
        self.jvps[key] = name
        what = f"forward mode over {inner}, the derivative that runs (order 2 and up)"
        if function is None:
            function = id(root_of(jv)) not in self.helpers
        runs = []
        for k, (targs, ran, n) in enumerate(group):
            run = f"run_{name}" + (f"_{k + 1}" if k else "")
            text = textwrap.dedent(inspect.getsource(ran))
            made = self.generated(ran, text, run, what, closure if function else None)
            call = f"make_{made}(**closure_values(function))" if closure else made
            runs.append((call, targs, ran, n))
        self.ns.add_block(jvp_wrapper(name, runs, jv, function), derivative=True)
        return name

    def injected(self, var: str, value: Any, what: str) -> str:
        """The module-level name of the object ``value`` generated code reads as ``var``."""
        if isinstance(value, Transformed):
            return self.callee(var, value)
        if isinstance(value, BufferPool):
            target = self.ns.free_name(var, value)
            self.ns.bind("BufferPool", BufferPool, what, BufferPool.__module__)
            if self.ns.claim(target, value, what):
                views = tuple((b, s, d.str) for b, s, d in value.views)
                self.ns.add_block(f"{target} = BufferPool.of({value.blocks!r}, {views!r})")
            return target
        if is_resolver(value):
            return self.resolver(value)
        if type(value) is types.FunctionType and hasattr(value, "builder_source"):
            return self.builder(var, value)
        if type(value) is types.FunctionType and _made_here(value.__code__.co_filename):
            raise ExportError(f"{what} calls {var}, generated code an export cannot write yet")
        if is_library(value):
            return self.ns.library_object(value, what)
        own = getattr(value, "__module__", "") or ""
        if own.split(".")[0] == __name__.split(".")[0] and not own.startswith(_RUNTIME):
            raise ExportError(taken_when_run(what, var, own, value))
        if own.split(".")[0] == __name__.split(".")[0] and hasattr(value, "__name__"):
            self.ns.bind(value.__name__, value, what, own)
            return value.__name__
        target = self.ns.free_name(var, value)
        self.ns.bind(target, value, what)
        return target

    def callee(self, var: str, t: Transformed) -> str:
        """The wrapper that calls the build of the user's helper's derivative ``t`` that ran
        (what calling ``t`` returns, from what its generated function returns)."""
        got = self.written.get(id(t))
        if got is not None:
            return got
        name = self.ns.free_name(var, t)
        self.ns.claim(name, t, var)
        self.written[id(t)] = name
        entries = self.runs.get(id(t), [])
        if t.bound_self:
            raise ExportError(f"{var}: the derivative of a method; an export cannot write it yet")
        if t.f not in self.user_functions:
            self.user_functions.append(t.f)
        if not entries:  # never reached for the arguments exported
            self.ns.add_block(not_reached(name))
            return name
        runs = []
        for k, (args, entry) in enumerate(entries):
            run = f"run_{name}" + (f"_{k + 1}" if k else "")
            described = describe(t, "derivative") + (
                f", for {describe_value(args)}" if len(entries) > 1 else ""
            )
            runs.append((self.generated(entry.fn, entry.text, run, described), args))
        self.ns.add_block(callee_wrapper(name, runs, t, entries[0][1]), derivative=True)
        if t.mode == "jvp":
            self.ns.bind("not_aliasing", not_aliasing, name)
        return name

    def builder(self, var: str, fn: types.FunctionType) -> str:
        """A gradient builder (:func:`~sourcegrad.runtime.containers.gradient_builder`) as
        source: the text it was made from, and the helpers it reads."""
        name = self.ns.free_name(var, fn)
        if not self.ns.claim(name, fn, var):
            return name
        self.ns.reserved.add(name)
        self.ns.read_globals(fn, var)
        self.ns.add_block(with_def_line(fn.builder_source, name, None, None, var))
        return name


# ---------------------------------------------------------------------------- export
def export(
    f: Callable,
    args: tuple,
    *,
    path: str | os.PathLike | None = None,
    wrt: int | Sequence[int] = 0,
    mode: str = "reverse",
    order: int = 1,
) -> str:
    """The source of a standalone module computing the derivative of ``f`` for arguments
    like ``args`` (see the module docstring); written to ``path`` too where given."""
    if mode not in ("reverse", "forward"):
        raise SourcegradError(f"mode={mode!r} is not available; use 'reverse' or 'forward'")
    if type(order) is not int or order < 1 or (order >= 2 and mode != "reverse"):
        raise ExportError(
            f"order={order!r}, mode={mode!r}: an export writes gradients, jvps (order=1) and, "
            "in reverse mode, derivatives of order 2 and up along a vector (order=2: "
            "Hessian-vector products)"
        )
    if not isinstance(f, types.FunctionType):
        raise ExportError(f"export takes a plain function, got {f!r}")
    args = tuple(args)
    try:
        with derive.whole_vjps():  # each callee's vjp is written whole
            if order >= 2:
                text = _tower_module_text(f, wrt, args, order)
            else:
                text = _first_order_text(f, wrt, mode, args)
    except SourcegradError as exc:
        if exc.filename is not None:
            raise
        raise type(exc)(exc.reason, *raised_at(exc, f)) from None  # the call it met, or f
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    return text


#: the options of an export's derivatives: builds apart from those that keep forward sweeps
_WHOLE = {"keep_forward": False}


def _first_order_text(f, wrt, mode: str, args: tuple) -> str:
    """The export of the gradient (``mode="reverse"``) or jvp of ``f`` for ``args``."""
    if mode == "reverse":
        df = derivative(f, wrt, "grad", False, True, _WHOLE)
        call = lambda: df(*args)  # noqa: E731
    else:
        df = derivative(f, wrt, "jvp", False, True, _WHOLE)
        seed = tuple(args[i] for i in df.wrt) if df.wrt_tuple else args[df.wrt[0]]
        call = lambda: df(*args, seed)  # noqa: E731
    for _ in range(derivative_module.SPECIALISE_AFTER + 1):  # until the running build runs
        call()
    entry = df.emitted(args)
    return _module_text(f, df, entry, traced(call), args)


def _tower_module_text(f, wrt, args: tuple, order: int) -> str:
    """The export of the ``order``-th derivative of ``f`` along one vector ``v`` for ``args``
    (then ``v``): forward mode applied ``order - 1`` times to the pure gradient, each level
    transforming the pure code of the one below, built as :class:`sourcegrad.higher.Tower`
    builds it and run as it runs it (``order=2``: ``sg.hvp``'s Hessian-vector product)."""
    if isinstance(wrt, (tuple, list)):
        raise ExportError(
            f"order={order}: an export writes the derivative along one wrt (an argument "
            "position); export each argument's, or pack the arguments into one"
        )
    levels = Tower(f, (), [wrt] * (order - 1), (wrt,), options=_WHOLE)
    g = levels.gradient()
    values = with_defaults(f, tuple(args)) + (args[wrt],) * (order - 1)  # seeds: v's structure
    entry = levels.outermost(values)
    code = entry.fn.__code__  # the seeds: its last keyword-only parameters, one per level
    kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    rest = values[code.co_argcount :]  # by keyword, the last ones (as the tower calls it)
    named = dict(zip(kwonly[len(kwonly) - len(rest) :], rest))
    call = lambda: entry.fn(*values[: code.co_argcount], **named)  # noqa: E731
    for _ in range(derivative_module.SPECIALISE_AFTER + 1):  # until the callees' builds run
        call()
    writer = _Writer(traced(call), f)
    take_gradients(writer, GRADIENTS_STAND_IN)
    writer.ns.argument_classes(args, f"the arguments of {f.__qualname__}")
    public = f"d_{f.__name__}"
    what = describe(g, f"derivative of order {order} (forward mode over it, {order - 1}x)")
    what = what.replace("the gradient of", "the gradient of the gradient of", 1)
    run = writer.generated(entry.fn, entry.text, f"run_{public}", what)
    seeds = ", ".join(f"{p}=v" for p in kwonly[-(order - 1) :])
    writer.ns.add_block(
        f"def {public}(*args):\n    *args, v = args\n    return {run}(*args, {seeds})\n",
        derivative=True,
    )
    writer.gradient_jvps = write_gradients(writer, writer.trace)
    writer.resolved()
    make_header = lambda: header(f, g, args, writer.user_functions, public, order)  # noqa: E731
    return _assemble(writer, make_header, public)


def _module_text(f, df: Transformed, entry, trace: Trace, args: tuple) -> str:
    writer = _Writer(trace, f)
    take_gradients(writer, GRADIENTS_STAND_IN)
    writer.ns.argument_classes(args, f"the arguments of {f.__qualname__}")
    public = f"d_{f.__name__}"
    code = getattr(entry.fn, "__code__", None)
    if code is not None and code.co_filename == pipeline.__file__:
        _scalar_gradient(writer, entry.fn, public, df)
    elif code is None or not is_generated(code.co_filename):
        raise ExportError(f"the derivative of {f.__qualname__} runs through {entry.fn!r}")
    else:
        direct = df.mode == "grad" and not (df.wrt_tuple and len(df.wrt) == 1)
        direct = direct and df.packing is None
        main = public if direct else f"run_{public}"
        writer.generated(entry.fn, entry.text, main, describe(df, "derivative"))
        if df.packing is not None and df.mode != "grad":
            raise ExportError(
                f"{f.__name__}() takes *args or **kwargs: its gradient exports (mode "
                "'reverse'); for forward mode give every argument a name",
                f.__code__.co_filename,
                f.__code__.co_firstlineno,
            )
        if df.packing is not None:  # def loss(params, *batch): called as the user calls it
            writer.ns.add_block(packing_wrapper(public, main, df.packing), derivative=True)
        elif not direct:
            writer.ns.add_block(public_wrapper(public, main, df, entry), derivative=True)
            if df.mode == "jvp":
                writer.ns.bind("not_aliasing", not_aliasing, public)
    writer.gradient_jvps = write_gradients(writer, trace)
    writer.resolved()
    return _assemble(writer, lambda: header(f, df, args, writer.user_functions, public), public)


def _assemble(writer: _Writer, make_header: Callable[[], str], public: str) -> str:
    """The module's text: ``make_header()``, imports, the derivative, then what it reads."""
    for fn in list(writer.ns.bound.values()):  # the user's functions and classes it copies
        copied = isinstance(fn, type) and fn.__module__.split(".")[0] not in ALLOWED_PACKAGES
        if copied or (type(fn) is types.FunctionType and not _made_here(fn.__code__.co_filename)):
            own = (fn.__module__ or "").split(".")[0] == __name__.split(".")[0]
            if not own and not is_standard(fn) and fn not in writer.user_functions:
                writer.user_functions.append(fn)
    parts = [make_header(), import_block(writer.ns.imports), f"__all__ = [{public!r}]\n"]
    parts += writer.ns.derived[::-1]  # the public function first, then what it calls
    parts += [_SUPPORT] + writer.ns.blocks
    text = "\n\n".join(p.rstrip("\n") + "\n" for p in parts)
    import black  # only where a module is written: `import sourcegrad` stays light

    return black.format_str(text, mode=black.Mode(line_length=LINE_LENGTH))


def _scalar_gradient(writer: _Writer, fn: types.FunctionType, public: str, df) -> None:
    """Write the gradient with respect to a 0-d array, which runs in forward mode through a
    wrapper of the pipeline's (:func:`sourcegrad.pipeline.Pipeline` calls the jvp with a
    seed of ones and returns the tangent as the gradient)."""
    try:
        closure = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
        jvp, i, param = closure["jvp"], closure["i"], closure["param"]
    except (KeyError, TypeError, ValueError):
        raise ExportError(f"the derivative of {df.f.__qualname__} runs through {fn!r}") from None
    try:  # the generated text, registered with linecache
        inner = textwrap.dedent(inspect.getsource(jvp))
    except (OSError, TypeError):
        raise ExportError(f"the source of {jvp.__qualname__} cannot be read") from None
    run = writer.generated(jvp, inner, f"run_{public}", describe(df, "derivative"))
    writer.ns.bind("as_gradient", as_gradient, public)
    writer.ns.add_block(
        f"def {public}(*args, **kwargs):\n"
        f"    x = args[{i}]\n"
        "    if type(x) is np.ndarray:\n"
        f"        kwargs = dict(kwargs, {param}=np.ones_like(x))\n"
        f"    value, tangent = {run}(*args, **kwargs)\n"
        "    return value, as_gradient(x, tangent)\n",
        derivative=True,
    )


def _made_here(filename: str) -> bool:
    """Code with no file of the user's: generated by sourcegrad, or compiled from a string."""
    return filename.startswith("<") or is_generated(filename)
