"""Pass 1 — parse: from a live Python function to its gast syntax tree.

Guarantees to the next pass: a ``gast.FunctionDef`` without decorators whose line numbers are
the line numbers of the user's file, plus everything needed to resolve names the way the function
itself resolves them (its globals, closure cells and builtins) and to quote its source lines.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import linecache
import os
import site
import sysconfig
import textwrap
import types
import weakref
from dataclasses import dataclass, field

import gast

from .. import rules as R
from ..errors import NoSourceError, UnsupportedSyntaxError, user_location
from ..gast_trees import parse_gast
from . import syntax as S
from .local_imports import imports_as_closure
from .no_source import no_source_refusal
from .positional_outputs import outputs_as_keywords
from .source_lines import definition_lines


@dataclass
class Parsed:
    """A parsed function and its environment."""

    fn: types.FunctionType
    node: gast.FunctionDef
    filename: str
    globals: dict
    closure: dict  # free variable name -> cell
    lines: dict = field(default_factory=dict)  # line number -> stripped source text
    helpers_inlined: object = None  # the node, helpers writing into arguments inlined

    def line_text(self, lineno: int) -> str:
        return self.lines.get(lineno, "")


class Unresolved:
    """Marker for a name that cannot be resolved to a live object at transform time."""


UNRESOLVED = Unresolved()


def _source_of(fn) -> tuple[list[str], int]:
    # The source of the code that runs: ``inspect.getsourcelines(fn)`` would follow
    # ``__wrapped__`` (set by ``functools.wraps``) to the wrapped function instead.
    # The file's lines are read first (``inspect.getsourcelines`` resolves the path of every
    # loaded module on a process's first call: 15 ms); it stays the way for other first lines.
    code = fn.__code__
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    start = code.co_firstlineno - 1
    if 0 <= start < len(lines) and lines[start].lstrip().startswith(("def ", "async def ", "@")):
        return definition_lines(lines, code), code.co_firstlineno
    try:
        return inspect.getsourcelines(code)
    except (OSError, TypeError):
        pass
    lines = linecache.getlines(code.co_filename)
    if lines:
        start = code.co_firstlineno - 1
        block = inspect.getblock(lines[start:])
        return block, code.co_firstlineno
    raise NoSourceError(
        f"cannot find the source of {fn.__qualname__!r} (defined in {code.co_filename}); "
        "sourcegrad reads source code: define the function in a file or a notebook cell, "
        "or register its derivative with sourcegrad.defvjp",
        code.co_filename,
        code.co_firstlineno,
    )


#: the attribute of a function made by :func:`packed` that holds the function it packs
PACKS = "__sourcegrad_packs__"
#: attribute of a function made from another's rewritten tree (``plain_classes.py``'s makers):
#: the function giving its :class:`Parsed`
MADE_BY = "__sourcegrad_parsed_by__"
_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def packed(fn: types.FunctionType) -> types.FunctionType:
    """``fn`` with its ``*args`` parameter taking one tuple and its ``**kwargs`` parameter one
    dict (plain parameters of the same names, defaults ``()`` and ``{}``): the form in which a
    call to it is differentiated, its variable arguments being one container each.
    :func:`parse` of it gives ``fn``'s own syntax tree with those two parameters made plain."""
    made = _PACKED.get(fn)
    if made is not None:
        return made
    code = fn.__code__
    sig = inspect.signature(fn, follow_wrapped=False)
    plain, keyword_only, passed = [], [], []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            plain.append(p.name)
            passed.append("*" + p.name)
        elif p.kind is p.VAR_KEYWORD:
            keyword_only.append(p.name)
            passed.append("**" + p.name)
        elif p.kind is p.KEYWORD_ONLY:
            keyword_only.append(p.name)
            passed.append(f"{p.name}={p.name}")
        else:
            plain.append(p.name)
            passed.append(p.name)
    head = ", ".join(plain + (["*"] if keyword_only else []) + keyword_only)
    name = code.co_name if code.co_name.isidentifier() else "lambda_"
    # the function it packs is a closure cell, not a global: ``made`` reads ``fn``'s globals,
    # which the derivative made from ``fn``'s source reads too
    text = (
        f"def factory__({PACKS}):\n    def {name}({head}):\n"
        f"        return {PACKS}({', '.join(passed)})\n    return {name}\n"
    )
    namespace: dict = {}
    exec(compile(text, code.co_filename, "exec"), namespace)  # noqa: S102
    wrapper = namespace["factory__"](fn)
    made = types.FunctionType(
        wrapper.__code__.replace(co_firstlineno=code.co_firstlineno),
        fn.__globals__,
        name,
        None,
        wrapper.__closure__,
    )
    defaults = list(fn.__defaults__ or ())
    kwdefaults = dict(fn.__kwdefaults__ or {})
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            defaults.append(())
        elif p.kind is p.VAR_KEYWORD:
            kwdefaults[p.name] = {}
    made.__defaults__ = tuple(defaults) or None
    made.__kwdefaults__ = kwdefaults or None
    made.__qualname__ = fn.__qualname__
    made.__module__ = fn.__module__
    setattr(made, PACKS, fn)
    _PACKED[fn] = made
    return made


@dataclass(frozen=True)
class CallPlan:
    """How a call of a function with ``nhead`` arguments by position, then arguments by the
    names ``names``, binds to its parameters, as Python binds it: ``slots``, one per
    parameter in order (``("arg", k)``: the call's ``k``-th argument; ``("default", i)`` and
    ``("kwdefault", name)``: the function's default; ``("tuple", ks)`` and ``("dict",
    ((key, k), ...))``: its ``*args`` and ``**kwargs``, packed as :func:`packed` takes them),
    and ``places``: for the call's ``k``-th argument, ``(parameter, item)`` with ``item`` its
    position in the packed tuple or its key in the packed dict, else None."""

    slots: tuple
    places: tuple
    packs: bool

    def values(self, fn: types.FunctionType, args: tuple) -> tuple:
        """The value of each parameter of ``fn`` (or of its packed form) for the call with
        ``args`` (those by name last, in the plan's order), defaults read from ``fn``."""
        out = []
        for kind, x in self.slots:
            if kind == "arg":
                out.append(args[x])
            elif kind == "default":
                out.append(fn.__defaults__[x])
            elif kind == "kwdefault":
                out.append(fn.__kwdefaults__[x])
            elif kind == "tuple":
                out.append(tuple(args[k] for k in x))
            else:
                out.append({key: args[k] for key, k in x})
        return tuple(out)


#: (code, defaults' count, keyword defaults' names, nhead, names) -> its CallPlan
_PLANS: dict = {}


def call_plan(fn: types.FunctionType, nhead: int, names: tuple) -> CallPlan:
    """The :class:`CallPlan` of ``fn`` called with ``nhead`` arguments by position, then
    arguments by the ``names``; the same for every function of the same code and defaults.
    Raises Python's TypeError where the call does not bind."""
    kwdefaults = tuple(fn.__kwdefaults__ or ())
    key = (fn.__code__, len(fn.__defaults__ or ()), kwdefaults, nhead, names)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(fn, nhead, names)
    return plan


class _Arg(int):
    """The position of one of the call's arguments, bound in its place."""


def _plan(fn, nhead: int, names: tuple) -> CallPlan:
    sig = inspect.signature(fn, follow_wrapped=False)
    args = [_Arg(k) for k in range(nhead + len(names))]
    bound = sig.bind(*args[:nhead], **dict(zip(names, args[nhead:]))).arguments
    slots, places = [], [None] * len(args)
    first_default = fn.__code__.co_argcount - len(fn.__defaults__ or ())
    for j, p in enumerate(sig.parameters.values()):
        if p.kind is p.VAR_POSITIONAL:
            ks = tuple(int(k) for k in bound.get(p.name, ()))
            slots.append(("tuple", ks))
            for item, k in enumerate(ks):
                places[k] = (j, item)
        elif p.kind is p.VAR_KEYWORD:
            items = tuple((key, int(k)) for key, k in bound.get(p.name, {}).items())
            slots.append(("dict", items))
            for key, k in items:
                places[k] = (j, key)
        elif p.name in bound:
            slots.append(("arg", int(bound[p.name])))
            places[bound[p.name]] = (j, None)
        elif p.kind is p.KEYWORD_ONLY:
            slots.append(("kwdefault", p.name))
        else:
            slots.append(("default", j - first_default))
    packs = any(kind in ("tuple", "dict") for kind, _ in slots)
    return CallPlan(tuple(slots), tuple(places), packs)


def _unpacked_parameters(node: gast.FunctionDef) -> None:
    """``def f(a, *xs, k=1, **kw)`` as ``def f(a, xs=(), *, k=1, kw={})`` (in place)."""
    args = node.args
    if args.vararg is not None:
        args.defaults = [*args.defaults, gast.Constant(value=(), kind=None)]
        args.args = [
            *args.args,
            gast.Name(id=args.vararg.id, ctx=gast.Param(), annotation=None, type_comment=None),
        ]
        args.vararg = None
    if args.kwarg is not None:
        args.kwonlyargs = [
            *args.kwonlyargs,
            gast.Name(id=args.kwarg.id, ctx=gast.Param(), annotation=None, type_comment=None),
        ]
        args.kw_defaults = [*args.kw_defaults, gast.Constant(value=None, kind=None)]
        args.kwarg = None


def _parse_lines(src_lines: list[str]) -> tuple[gast.Module | None, str]:
    """The module of the dedented lines, or None and why they do not parse on their own (e.g.
    a lambda taken out of the middle of a line)."""
    try:
        return parse_gast(textwrap.dedent("".join(src_lines))), ""
    except SyntaxError as exc:
        return None, str(exc.msg)


def _dedented_by(src_lines: list[str]) -> int:
    """How many columns :func:`_parse_lines` took off the front of every line."""
    text = "".join(src_lines)
    first = src_lines[0] if src_lines else ""
    dedented = textwrap.dedent(text).splitlines()
    return len(first.rstrip("\n")) - len(dedented[0]) if dedented else 0


def _lambda_text(fn, lines: list[str]) -> tuple[list[str], int] | None:
    """``(lines, first line)``: the text of the lambda that made ``fn`` alone, in parentheses
    (``(lambda z: ...)``), cut out of the file's ``lines`` where its code's instructions say
    its body is; None where that cannot be told."""
    spans = [
        (line, col, end_line, end_col)
        for line, end_line, col, end_col in fn.__code__.co_positions()
        if line and col and end_line and end_col is not None
    ]
    if not spans or not lines:
        return None
    start, col = min((line, c) for line, c, _, _ in spans)
    end, end_col = max((end_line, c) for _, _, end_line, c in spans)
    if end > len(lines):
        return None
    raw = [line.encode() for line in lines[start - 1 : end]]  # columns count bytes
    keyword = raw[0].rfind(b"lambda", 0, col)
    if keyword < 0:
        return None
    raw[-1] = raw[-1][:end_col].rstrip(b"\n") + b")"
    raw[0] = b"(" + raw[0][keyword:]
    return [part.decode().rstrip("\n") + "\n" for part in raw], start


def _parsed_source(fn, src_lines: list[str], first: int) -> tuple[list[str], int, gast.Module]:
    """``fn``'s source lines, its first line's number, and the module they parse to, from
    ``src_lines`` and ``first`` as :func:`_source_of` reads them."""
    filename = fn.__code__.co_filename
    module, error = _parse_lines(src_lines)
    if module is None:  # the end read from the code object was wrong: tokenize to find it
        lines = linecache.getlines(filename, fn.__globals__)
        src_lines = inspect.getblock(lines[first - 1 :]) if lines else src_lines
        module, error = _parse_lines(src_lines)
    if module is None and fn.__code__.co_name == "<lambda>":
        # a lambda in a display written over several lines (`"relu": lambda z: ...,`)
        found = _lambda_text(fn, linecache.getlines(filename, fn.__globals__))
        if found is not None:
            (src_lines, first), (module, error) = found, _parse_lines(found[0])
    if module is None:
        raise UnsupportedSyntaxError(
            f"cannot parse the source of {fn.__qualname__!r} on its own ({error}); "
            "define it with `def` on lines of its own",
            filename,
            first,
        )
    return src_lines, first, module


def parse(fn) -> Parsed:
    """Parse ``fn`` (a plain Python function) into a new :class:`Parsed` record (``fn`` is
    only read); of a function made by :func:`packed`, the function it packs, its variable
    arguments made plain parameters."""
    made_by = getattr(fn, MADE_BY, None)
    if made_by is not None:
        return made_by(fn)
    original = getattr(fn, PACKS, None)
    if original is not None:
        parsed = parse(original)
        _unpacked_parameters(parsed.node)
        parsed.fn = fn
        return parsed
    if not isinstance(fn, types.FunctionType):
        raise no_source_refusal(fn)
    code = fn.__code__
    source = _source_of(fn)
    kept = _KEPT.get(code)  # equal code objects of two files compare equal: check the file
    again = kept is not None and kept[0] == source and kept[2] == code.co_filename
    if again and kept[1] is not None:
        node, filename, lines = S.clone(kept[1]), kept[2], dict(kept[3])
        _defaults_as_values(node, fn)
    else:
        node, src_lines, first = _code_tree(fn, *source)
        filename = code.co_filename
        lines = {first + i: line.strip() for i, line in enumerate(src_lines)}
        if _read_from_user_file(filename, first):  # what follows depends on nothing else
            _KEPT[code] = (source, S.clone(node) if again else None, filename, dict(lines))
        _defaults_as_values(node, fn)
        found = _user_lines(node, filename, first)
        if found is not None:
            filename, lines = found
    closure = {}
    if fn.__closure__:
        closure = dict(zip(code.co_freevars, fn.__closure__))
    if any(isinstance(s, (gast.Import, gast.ImportFrom)) for s in node.body):
        imports_as_closure(node, fn, closure)
    parsed = Parsed(fn, node, filename, fn.__globals__, closure, lines)
    local = S.bound_names(node)
    outputs_as_keywords(node, lambda e: resolve(parsed, e, local))
    return parsed


#: code object -> (its source lines and first line as :func:`_source_of` read them, a copy
#: of the tree :func:`_code_tree` made of them or None, its filename, its lines): a function
#: parsed again (a helper called from several places, each build of a caller) is parsed
#: twice, then copied, while its code lives and its source reads the same; a function parsed
#: once pays for no copy
_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _code_tree(fn, src_lines: list[str], first: int) -> tuple[gast.FunctionDef, list, int]:
    """``(tree, its source lines, its first line)`` of ``fn``'s code: its ``def`` without
    decorators, at the line numbers of its file."""
    filename = fn.__code__.co_filename
    src_lines, first, module = _parsed_source(fn, src_lines, first)
    node = module.body[0] if module.body else None
    if fn.__code__.co_name == "<lambda>":
        node = _lambda_as_def(module, fn, filename, first, _dedented_by(src_lines))
    if not isinstance(node, gast.FunctionDef):
        raise UnsupportedSyntaxError(
            f"{fn.__qualname__!r} is not defined with `def` (lambdas and async functions are not "
            "transformed); rewrite it as a plain `def` function",
            filename,
            first,
        )
    for sub in S.walk(node):
        if hasattr(sub, "lineno") and sub.lineno is not None:
            sub.lineno += first - 1
        if getattr(sub, "end_lineno", None) is not None:
            sub.end_lineno += first - 1
    node.decorator_list = []
    return node, src_lines, first


def _read_from_user_file(filename: str, first: int) -> bool:
    """Whether code at ``filename``'s line ``first`` is the user's own (not generated from
    another file's ``def``): then :func:`_user_lines` leaves its tree as it is."""
    user_file, user_first = user_location(filename, first)
    return (user_file, user_first) == (filename, first) or user_first is None


def _user_lines(node: gast.FunctionDef, filename: str, first: int):
    """Where ``node`` was read from generated code (a nested ``def`` the derivative copied),
    its line numbers made those of the user's own ``def`` (in place), and ``(user's file,
    its lines)``; None where the user's ``def`` cannot be read or is not ``node``'s shape (the
    generated lines then map to the ``def``'s line only, through :func:`user_location`)."""
    user_file, user_first = user_location(filename, first)
    if (user_file, user_first) == (filename, first) or user_first is None:
        return None
    found = _user_def(user_file, user_first)
    if found is None:
        return None
    block, theirs = found
    count = 0  # (stopped at the first node of another class: a derivative's tree is not f's)
    for here in S.walk(node):
        if count >= len(theirs) or type(here) is not type(theirs[count]):
            return None
        count += 1
    if count != len(theirs):
        return None
    for here, there in zip(S.walk(node), theirs):
        for attr in ("lineno", "end_lineno"):
            if getattr(there, attr, None) is not None and hasattr(here, attr):
                setattr(here, attr, getattr(there, attr) + user_first - 1)
    return user_file, {user_first + i: line.strip() for i, line in enumerate(block)}


#: (file, line of a ``def``) -> (the file's lines linecache held, what :func:`_user_def`
#: found in them): read again where linecache holds other lines for the file
_USER_DEFS: dict = {}


def _user_def(user_file: str, user_first: int):
    """``(its lines, the nodes of its tree in walk order)`` of the ``def`` at ``user_file``'s
    line ``user_first``; None where no ``def`` can be read there."""
    source = linecache.getlines(user_file)
    if not source or user_first > len(source):
        return None
    got = _USER_DEFS.get((user_file, user_first))
    if got is not None and got[0] is source:
        return got[1]
    block = inspect.getblock(source[user_first - 1 :])
    try:
        mine = parse_gast(textwrap.dedent("".join(block))).body[0]
    except (SyntaxError, IndexError):
        mine = None
    found = (block, list(S.walk(mine))) if isinstance(mine, gast.FunctionDef) else None
    _USER_DEFS[(user_file, user_first)] = (source, found)
    return found


def _defaults_as_values(node, fn) -> None:
    """Parameter defaults as constants. A derivative takes the function's own default values
    (``__defaults__``, ``__kwdefaults__``); the expressions written in its ``def`` are only
    shown, and one naming a global (``a=SCALE``) could not even be evaluated where generated
    code is defined. A value that is not a plain constant shows as None."""

    def constant(expr, value):
        if isinstance(expr, gast.Constant):
            return expr
        plain = type(value) in (bool, int, float, complex, str, type(None)) and value == value
        new = S.const(value if plain else None)
        return gast.copy_location(new, expr)

    args = node.args
    defaults = fn.__defaults__ or ()
    if len(defaults) == len(args.defaults):
        args.defaults = [constant(e, v) for e, v in zip(args.defaults, defaults)]
    kwdefaults = fn.__kwdefaults__ or {}
    args.kw_defaults = [
        e if e is None or a.id not in kwdefaults else constant(e, kwdefaults[a.id])
        for a, e in zip(args.kwonlyargs, args.kw_defaults)
    ]


def _by_columns(lambdas: list, code, first: int, shift: int) -> list:
    """The one of ``lambdas`` (parsed from lines starting at line ``first``, dedented by
    ``shift`` columns) whose body holds the source positions of ``code``'s instructions
    (``[]`` where not exactly one does)."""
    spots = [(line, col) for line, _, col, _ in code.co_positions() if line and col]

    def inside(lam) -> int:
        body = lam.body
        start = (body.lineno + first - 1, body.col_offset + shift)
        end = (body.end_lineno + first - 1, body.end_col_offset + shift)
        return sum(start <= spot <= end for spot in spots)

    scores = [inside(lam) for lam in lambdas]
    best = [lam for lam, score in zip(lambdas, scores) if score and score == max(scores)]
    return best if len(best) == 1 else []


def _lambda_as_def(module, fn, filename, first, shift=0):
    """The ``lambda`` that made ``fn``, as an equivalent one-line ``def`` (its lines start at
    line ``first`` and were dedented by ``shift`` columns)."""
    code = fn.__code__
    params = list(code.co_varnames[: code.co_argcount])
    found = [
        n
        for n in S.walk(module)
        if isinstance(n, gast.Lambda)
        and [a.id for a in n.args.args] == params
        and n.lineno + first - 1 == code.co_firstlineno
    ]
    if len(found) > 1:  # several on one line: the one whose body the code's columns are in
        found = _by_columns(found, code, first, shift)
    if len(found) != 1:
        raise UnsupportedSyntaxError(
            "cannot tell which lambda on this line to differentiate; define it with `def`",
            filename,
            code.co_firstlineno,
        )
    lam = found[0]
    ret = gast.Return(value=lam.body)
    ret.lineno = lam.lineno
    node = gast.FunctionDef(
        name="lambda_",
        args=lam.args,
        body=[ret],
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    node.lineno = lam.lineno
    return node


def resolve(parsed: Parsed, expr, local_names) -> object:
    """The live object a ``Name`` or attribute chain refers to, or ``UNRESOLVED``.

    Names bound inside the function (``local_names``) are never resolved: their values exist
    only when the function runs.
    """
    if isinstance(expr, gast.Name):
        name = expr.id
        if name in local_names:
            return UNRESOLVED
        if name in parsed.closure:
            try:
                return parsed.closure[name].cell_contents
            except ValueError:
                return UNRESOLVED
        if name in parsed.globals:
            return parsed.globals[name]
        return getattr(builtins, name, UNRESOLVED)
    if isinstance(expr, gast.Attribute):
        base = resolve(parsed, expr.value, local_names)
        if base is UNRESOLVED:
            return UNRESOLVED
        if _is_namespace_like(base):
            return getattr(base, expr.attr, UNRESOLVED)
        # a method of a global object that has a rule (scipy.stats.norm.pdf)
        method = getattr(type(base), expr.attr, None)
        if isinstance(method, types.FunctionType):
            bound = getattr(base, expr.attr, None)
            if R.lookup(bound) is not None or R.lookup_tangent(bound) is not None:
                return bound
    return UNRESOLVED


def _is_namespace_like(obj) -> bool:
    # numpy.linalg, numpy.random and friends are modules; ufunc objects have attributes too but
    # reading them (np.add.reduce) is a static reference as well.
    return isinstance(obj, (types.ModuleType, type)) or type(obj).__name__ == "ufunc"


def _installed_roots() -> tuple:
    paths = sysconfig.get_paths()
    roots = {paths.get("purelib"), paths.get("platlib"), *site.getsitepackages()}
    roots |= {paths.get("stdlib"), paths.get("platstdlib")}  # (collections' _asdict, ...)
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


_INSTALLED = _installed_roots()


#: sourcegrad's own library: written to be differentiated from its source, installed or not
LIBRARY_MODULES = ("sourcegrad.nn", "sourcegrad.model", "sourcegrad.util", "sourcegrad.loss")


def is_library(fn) -> bool:
    """Whether ``fn`` is a function of sourcegrad's library (:data:`LIBRARY_MODULES`)."""
    module = getattr(fn, "__module__", "") or ""
    return any(module == m or module.startswith(m + ".") for m in LIBRARY_MODULES)


def is_installed(fn) -> bool:
    """Whether ``fn`` comes from an installed package (site-packages): such a function is
    never transformed from its source, it needs a rule (sourcegrad's library excepted)."""
    code = getattr(fn, "__code__", None)
    if code is None or is_library(fn):
        return False
    return _installed_file(code.co_filename)


@functools.lru_cache(maxsize=1024)
def _installed_file(filename: str) -> bool:
    return os.path.realpath(filename).startswith(_INSTALLED)
