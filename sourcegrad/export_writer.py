"""The writer of an export (:mod:`sourcegrad.export`): each generated function the derivative
runs, written under a name of the module with what it reads (the values of its closure as
module-level names, the callees' wrappers, the buffer pools, the gradient builders), the
derivatives of function values and forward mode over derivatives in the tables the export's
own ``vjp_of`` / ``jvp_of`` read (:mod:`sourcegrad.export_values`)."""

from __future__ import annotations

import functools
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from .callables import written_positions
from .derivative import Transformed
from .disk_cache import is_generated
from .export_keys import check_function_value, function_key, named, unpacked
from .export_library import LibraryNamespace, is_library
from .export_runtime import RUNTIME, runtime_names
from .export_source import ExportError
from .export_text import (
    callee_wrapper,
    describe,
    describe_value,
    jvp_key,
    jvp_wrapper,
    not_reached,
    rename,
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
)
from .outputs import not_aliasing
from .runtime.buffers import BufferPool
from .runtime.signature import call_signature
from .runtime.trees import zero_adjoint
from .transform.naming import derivative_name
from .transform.plain_classes import is_maker

__all__ = ["Writer", "made_here"]

#: the modules of sourcegrad whose helpers generated code calls, copied into an export
_RUNTIME = __name__.rpartition(".")[0] + ".runtime"


# ---------------------------------------------------------------------------- the writer
class Writer:
    """The export of one derivative: its generated functions, with what they read, in a
    :class:`Namespace`."""

    def __init__(self, trace: Trace, user: Callable):
        self.ns = LibraryNamespace()
        self.ns.user = user
        self.ns.ran = trace.codes
        self.trace = trace
        #: id(derivative) -> [(arguments, the build that ran)], once per build and signature
        #: (a build for a shape pattern runs for several signatures, each with its guard)
        self.runs: dict = {}
        for t, targs, ran in trace.runs:
            got = self.runs.setdefault(id(t), [])
            got[:] = _distinct(got + [(targs, ran)])
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
                    function, read = class_member(member)
                    if function is not None and function.__code__ is code:
                        return f"{name}.{attr}{read}.__code__"
        return None

    def class_value(self, cls: type) -> str:
        """The name of the export's copy of the user's class ``cls``, called as a function
        value (a classmethod's ``cls(...)``), which its ``vjp_of`` finds as it finds NumPy's
        functions."""
        what = f"the class {cls.__qualname__}, called as a function value"
        self.ns.bind(cls.__name__, cls, what)
        entry = f"RULE_FUNCTIONS.add({cls.__name__})"
        if entry + "\n" not in self.ns.blocks:
            self.ns.add_block(entry)
        return cls.__name__

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
        key = function_key(t.f, self.local_code, self.user, self.class_value)
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
            entries = _distinct(entries + self.runs.get(id(other), []))
        if not entries:  # forward mode over it ran, not it
            self.ns.add_block(not_reached(name), derivative=True)
            self.table_entry(key, name)
            return
        runs, made_for = [], {}
        for k, (args, entry) in enumerate(entries):
            run = f"run_{name}" + (f"_{k + 1}" if k else "")
            described = f"the function value {t.mode} of {named(t.f, self.user)}" + (
                f", for {describe_value(args)}" if len(entries) > 1 else ""
            )
            if id(entry) not in made_for:
                made_for[id(entry)] = self.generated(entry.fn, entry.text, run, described, closure)
            made = made_for[id(entry)]
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
        if type(value) is str:  # a refusal's message that a runtime check raises
            target = self.ns.free_name(var, value)
            if self.ns.claim(target, value, what):
                self.ns.add_block(f"{target} = {value!r}")
            return target
        if type(value) is types.FunctionType and hasattr(value, "builder_source"):
            return self.builder(var, value)
        if is_maker(value):
            return self.maker(var, value, what)
        if type(value) is types.FunctionType and made_here(value.__code__.co_filename):
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
        runs, made_for = [], {}
        for k, (args, entry) in enumerate(entries):
            run = f"run_{name}" + (f"_{k + 1}" if k else "")
            described = describe(t, "derivative") + (
                f", for {describe_value(args)}" if len(entries) > 1 else ""
            )
            if id(entry) not in made_for:
                made_for[id(entry)] = self.generated(entry.fn, entry.text, run, described)
            runs.append((made_for[id(entry)], args))
        self.ns.add_block(callee_wrapper(name, runs, t, entries[0][1]), derivative=True)
        if t.mode == "jvp":
            self.ns.bind("not_aliasing", not_aliasing, name)
        return name

    def maker(self, var: str, fn: types.FunctionType, what: str) -> str:
        """The maker of a plain class (:mod:`sourcegrad.transform.plain_classes`) that
        generated code calls for its value alone (a base class's ``__init__`` given nothing
        differentiated) as plain code: it makes the object and runs that ``__init__`` on it."""
        name = self.ns.free_name(var, fn)
        if not self.ns.claim(name, fn, what):
            return name
        self.ns.reserved.add(name)
        cls = fn.__sourcegrad_makes__[0]
        held = [c.cell_contents for c in fn.__closure__ or ()]
        owner = next(c for c in cls.__mro__ if any(vars(c).get("__init__") is h for h in held))
        for named_class in {cls, owner}:
            self.ns.bind(named_class.__name__, named_class, what)
        params = inspect.signature(fn).parameters.values()
        head = [p.replace(default=p.empty, annotation=p.empty) for p in params]
        passed = [f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name for p in head]
        text = (
            f"def {name}{inspect.Signature(head)}:\n"
            f'    """A {cls.__name__} holding what {owner.__name__}.__init__ stores."""\n'
            f"    obj = {cls.__name__}.__new__({cls.__name__})\n"
            f"    {owner.__name__}.__init__({', '.join(['obj', *passed])})\n"
            "    return obj\n"
        )
        self.ns.add_block(with_def_line(text, name, fn.__defaults__, fn.__kwdefaults__, what))
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


def class_member(member) -> tuple:
    """``(function, read)``: the function behind the member ``member`` of a class (a method, a
    property's getter, a ``functools.cached_property``'s function, a static or class method's)
    and what reads it from the member as the class gives it (``""``, ``".fget"``, ...);
    ``(None, "")`` for any other member."""
    if type(member) is types.FunctionType or isinstance(member, staticmethod):
        function, read = getattr(member, "__func__", member), ""
    elif isinstance(member, property):
        function, read = member.fget, ".fget"
    elif isinstance(member, functools.cached_property):
        function, read = member.func, ".func"
    elif isinstance(member, classmethod):
        function, read = member.__func__, ".__func__"
    else:
        return None, ""
    return (function, read) if type(function) is types.FunctionType else (None, "")


def made_here(filename: str) -> bool:
    """Code with no file of the user's: generated by sourcegrad, or compiled from a string."""
    return filename.startswith("<") or is_generated(filename)


def _distinct(entries: list) -> list:
    """``entries`` (``(arguments, the build that ran)``), one per build and signature of the
    arguments, in their order."""
    seen, out = set(), []
    for args, ran in entries:
        key = (id(ran), tuple([call_signature(a) for a in args]))
        if key not in seen:
            seen.add(key)
            out.append((args, ran))
    return out
