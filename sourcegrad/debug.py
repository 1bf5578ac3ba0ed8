"""The debugger (``debug_hook``), the cheap ``check_finite`` test and the graph of a derivative.

``grad(f, debug_hook=hook)`` runs the pure derivative (no optimization) compiled with a check
after every generated assignment (:func:`instrument`): the first value of a call that holds a
NaN or an infinity calls ``hook`` with a :class:`Debugger` (the message, the generated source,
the computation as a GraphViz DOT graph); the call then goes on as without the hook.
``check_finite=True`` only tests the gradients a call returns (:func:`check_gradients`).
:func:`dot_source` gives the DOT graph of any derivative.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import pathlib
import shutil
import tempfile
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import disk_cache
from .errors import SourcegradError
from .leaf_checks import argument_leaves
from .transform.emit import Emitted

#: the names the instrumented code adds (no generated name starts with ``__sg``)
_WATCH = "__sg_watch__"
_INPUTS = "__sg_in__"


@dataclass
class Site:
    """One checked assignment: its line in the generated source, the name it assigns, the
    local names its value reads, and the user's line it differentiates (None: unknown)."""

    line: int
    names: tuple
    reads: tuple
    user_line: int | None


# ---------------------------------------------------------------- what a value holds
def bad_count(value: Any) -> tuple[int, int, int] | None:
    """``(nan, inf, size)`` of a floating or complex array or number; None for anything
    else (integers, booleans, containers, None)."""
    if isinstance(value, (float, complex, np.floating, np.complexfloating)):
        v = complex(value)
        nan = int(v != v)
        return nan, int(not nan and (abs(v.real) == np.inf or abs(v.imag) == np.inf)), 1
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind not in ("f", "c") or not hasattr(value, "shape"):
        return None
    arr = np.asarray(value)
    if np.isfinite(arr).all():
        return 0, 0, arr.size
    nan = int(np.isnan(arr).sum())
    return nan, int(np.isinf(arr).sum()), arr.size


def describe(value: Any) -> str:
    """A short description of a value: shape, dtype and what is not finite, or its repr."""
    counts = bad_count(value)
    if counts is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    nan, inf, size = counts
    bad = "all finite" if nan + inf == 0 else f"{nan} nan, {inf} inf of {size}"
    if not hasattr(value, "shape") or isinstance(value, np.generic):
        return f"{value!r} ({bad})"
    return f"shape {tuple(value.shape)}, {value.dtype}, {bad}"


def _shape_label(value: Any) -> str | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return type(value).__name__ if isinstance(value, (float, int, complex)) else None
    return f"{tuple(shape)} {getattr(value, 'dtype', '')}".strip()


# ---------------------------------------------------------------- the graph
@dataclass
class Graph:
    """The computation of one generated function: its parameters and assignments (forward
    and adjoint), each assignment's reads, and the shapes seen when it last ran."""

    name: str
    params: tuple
    sites: list
    adjoint: set  # indices of sites in the adjoint sweep
    texts: dict  # index -> the statement's source
    shapes: dict = field(default_factory=dict)  # name -> label

    def dot(self, user_file: str = "", bad: int | None = None) -> str:
        """The graph as DOT text: a node per parameter and assignment, an edge from where a
        value was last assigned (in source order) to each statement reading it; ``bad`` (a
        site index) filled red."""
        title = f"{self.name} ({os.path.basename(user_file)})" if user_file else self.name
        out = [f'digraph "{self.name}" {{', f'  label="{_escape(title)}";']
        out.append('  node [shape=box, fontname="monospace"];')
        defined = {p: f"p{i}" for i, p in enumerate(self.params)}
        for i, p in enumerate(self.params):
            out.append(f'  p{i} [label="{_escape(p + _shape_of(self.shapes, p))}", shape=ellipse];')
        clusters = {"forward": [], "adjoint": []}
        edges = []
        for i, site in enumerate(self.sites):
            part = "adjoint" if i in self.adjoint else "forward"
            where = f"\\nline {site.user_line}" if site.user_line is not None else ""
            shapes = "".join(_shape_of(self.shapes, n) for n in site.names[:1])
            label = f"{_escape(_short(self.texts[i]))}{_escape(shapes)}{where}"
            style = ', style=filled, fillcolor="#ff8080"' if i == bad else ""
            clusters[part].append(f'    n{i} [label="{label}"{style}];')
            edges.extend(f"  {defined[r]} -> n{i};" for r in site.reads if r in defined)
            for n in site.names:
                defined[n] = f"n{i}"
        for part, nodes in clusters.items():
            if nodes:
                out.append(f"  subgraph cluster_{part} {{")
                out.append(f'    label="{part}";')
                out.extend(nodes)
                out.append("  }")
        out.extend(dict.fromkeys(edges))
        out.append("}")
        return "\n".join(out) + "\n"


def _shape_of(shapes: dict, name: str) -> str:
    label = shapes.get(name)
    return f"\n{label}" if label else ""


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def graph_of(run: Emitted) -> Graph:
    """The :class:`Graph` of the generated function ``run`` (from its text)."""
    tree = ast.parse(run.text).body[0]
    lines = run.text.splitlines()
    split = next((i + 1 for i, line in enumerate(lines) if i and not line.strip()), None)
    sites, texts, adjoint = [], {}, set()
    local = _local_names(tree)
    for stmt, top in _assignments(tree.body, None):
        names = _targets(stmt)
        if stmt is None or not names and not isinstance(stmt, ast.Return):
            continue
        if isinstance(stmt, ast.Return):
            names = ("return",)
        i = len(sites)
        reads = tuple(dict.fromkeys(n for n in _reads(stmt) if n in local))
        sites.append(Site(stmt.lineno, names, reads, run.line_map.get(stmt.lineno + 1)))
        texts[i] = ast.unparse(stmt)
        if split is not None and top.lineno > split:
            adjoint.add(i)
    params = tuple(a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs)
    return Graph(run.name, params, sites, adjoint, texts)


def _assignments(body: list, top) -> Any:
    """``(statement, the top-level statement holding it)`` for every assignment and return
    in ``body``, in source order (nested function bodies left out)."""
    for stmt in body:
        holder = top or stmt
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)):
            yield stmt, holder
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list) and not isinstance(stmt, (ast.FunctionDef, ast.Lambda)):
                yield from _assignments(inner, holder)


def _targets(stmt) -> tuple:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    names = []
    for t in targets:
        elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
        names.extend(e.id for e in elts if isinstance(e, ast.Name))
    return tuple(names)


def _reads(stmt) -> list:
    value = stmt.value if stmt.value is not None else ast.Constant(None)
    found = [n.id for n in ast.walk(value) if isinstance(n, ast.Name)]
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        found.insert(0, stmt.target.id)
    return found


def _local_names(tree) -> set:
    names = {a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


# ---------------------------------------------------------------- the debugger
class Debugger:
    """What the debug hook gets at the first non-finite value of a call.

    ``message``: the generated line, the user's ``file:line`` it differentiates, the value's
    name, shape, dtype and how many elements are NaN or infinite, and the inputs of that
    statement; ``generated_source``: the generated function (its lines as numbered in the
    message); ``name``, ``value``, ``inputs``, ``generated_line``, ``user_file``,
    ``user_line``: the same, as values."""

    def __init__(self, watch: Watch, index: int, name: str, value: Any, inputs: dict):
        site = watch.graph.sites[index]
        # the shapes seen so far in this call (the next call records its own)
        self.graph = dataclasses.replace(watch.graph, shapes=dict(watch.graph.shapes))
        self.index = index
        self.name, self.value, self.inputs = name, value, inputs
        self.generated_source = watch.text
        self.generated_line = site.line
        self.user_file, self.user_line = watch.user_file, site.user_line
        user = f"{watch.user_file}:{site.user_line}" if site.user_line else watch.user_file
        text = watch.line_text(site.user_line) if site.user_line else ""
        shown = "\n".join(f"    {k}: {describe(v)}" for k, v in inputs.items()) or "    (none)"
        self.message = (
            f"sourcegrad debugger: a non-finite value in {name} ({describe(value)})\n"
            f"  generated line {site.line} of {watch.graph.name}: "
            f"{watch.text.splitlines()[site.line - 1].strip()}\n"
            f"  differentiates {user}: {text}\n"
            f"  inputs of that line:\n{shown}"
        )

    def __str__(self) -> str:
        return self.message

    def generate_dot(self, path: str | os.PathLike | None = None) -> str:
        """The computation as DOT text (forward and adjoint statements, the shapes seen, the
        statement that made the non-finite value filled red); written to ``path`` if given."""
        text = self.graph.dot(self.user_file, self.index)
        if path is not None:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
        return text

    def show_dot(self, view: bool = True) -> str | None:
        """Render the graph to an SVG file with the ``dot`` program (see :func:`render_dot`)
        and open it, with ``view``; the file's path, or None where ``dot`` is missing."""
        return render_dot(self.generate_dot(), view)


def render_dot(text: str, view: bool = False) -> str | None:
    """``text`` (DOT) rendered by the ``dot`` program to an SVG file in a new temporary
    directory (through the ``graphviz`` package where it is installed), opened in a browser
    with ``view``: the file's path, or None where ``dot`` is missing (nothing rendered)."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    import subprocess  # (imported here: only rendering needs them)
    import webbrowser

    try:  # optional: DOT text is made without it, only rendering needs it
        import graphviz
    except ImportError:  # pragma: no cover - depends on the environment
        graphviz = None
    folder = tempfile.mkdtemp(prefix="sourcegrad-dot-")
    if graphviz is not None:
        return graphviz.Source(text).render(os.path.join(folder, "graph"), format="svg", view=view)
    path = os.path.join(folder, "graph.svg")
    subprocess.run([exe, "-Tsvg", "-o", path], input=text, text=True, check=True, timeout=120)
    if view:
        webbrowser.open(pathlib.Path(path).as_uri())
    return path


class Watch:
    """The checks of one instrumented function: ``start()`` at each call, ``check(i, value,
    inputs)`` after assignment ``i``, calling the hook at a call's first non-finite value."""

    def __init__(self, graph: Graph, text: str, hook, user_file: str, line_text: Callable):
        self.graph, self.text, self.hook = graph, text, hook
        self.user_file, self.line_text = user_file, line_text
        self.tripped = False

    def start(self) -> None:
        self.tripped = False
        self.graph.shapes = {}

    @staticmethod
    def pick(values: dict, names: tuple) -> dict:
        """The entries of ``values`` (a frame's locals) named in ``names``, in that order."""
        return {n: values[n] for n in names if n in values}

    def check(self, index: int, inputs: dict, *values: Any) -> None:
        names = self.graph.sites[index].names
        for name, value in zip(names, values):
            label = _shape_label(value)
            if label is not None:
                self.graph.shapes[name] = label
            if self.tripped or self.hook is None:
                continue
            counts = bad_count(value)
            if counts is not None and counts[0] + counts[1]:
                self.tripped = True
                self.hook(Debugger(self, index, name, value, inputs))


def instrument(run: Emitted, hook, user_file: str, line_text: Callable) -> Emitted:
    """``run`` (a pure, unwrapped generated function) with every assignment followed by a
    check of the values it assigns (``hook`` called at a call's first non-finite one, see
    :class:`Watch`; None: shapes only recorded). Runs the same statements on the same
    values, so it returns what ``run`` returns. The text is compiled from a file of the cache
    directory (:func:`sourcegrad.disk_cache.placed`)."""
    graph = graph_of(run)
    watch = Watch(graph, run.text, hook, user_file, line_text)
    tree = ast.parse(run.text)
    fn_node = tree.body[0]
    by_line = {(site.line, site.names): i for i, site in enumerate(graph.sites)}
    fn_node.body = _checked(fn_node.body, by_line, graph)
    fn_node.body.insert(0, _stmt(f"{_WATCH}.start()"))
    old = run.fn.__code__.co_freevars
    params = ", ".join(old + (_WATCH,))
    inner = ast.unparse(tree)
    body = "\n".join("    " + line if line else "" for line in inner.splitlines())
    text = f"def __sg_make__({params}):\n{body}\n    return {fn_node.name}\n"
    filename = disk_cache.placed(text, run.name)
    namespace: dict = {}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    made = namespace["__sg_make__"](*([None] * (len(old) + 1)))
    cells = dict(zip(old, run.fn.__closure__ or ()))
    cells[_WATCH] = types.CellType(watch)
    fn = types.FunctionType(
        made.__code__,
        run.fn.__globals__,
        run.fn.__name__,
        run.fn.__defaults__,
        tuple(cells[n] for n in made.__code__.co_freevars),
    )
    fn.__kwdefaults__ = run.fn.__kwdefaults__
    fn.__qualname__ = run.fn.__qualname__
    run.fn = fn
    run.watch = watch
    return run


def _stmt(text: str) -> ast.stmt:
    return ast.parse(text).body[0]


def _checked(body: list, by_line: dict, graph: Graph) -> list:
    """``body`` with each assignment of ``by_line`` preceded by the capture of its inputs
    and followed by its check (in nested blocks too)."""
    out = []
    for stmt in body:
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list) and inner and not isinstance(stmt, ast.FunctionDef):
                setattr(stmt, name, _checked(inner, by_line, graph))
        index = by_line.get((getattr(stmt, "lineno", None), _targets(stmt)))
        if index is None or isinstance(stmt, ast.Return):
            out.append(stmt)
            continue
        site = graph.sites[index]
        out.append(_stmt(f"{_INPUTS} = {_WATCH}.pick(locals(), {site.reads!r})"))
        out.append(stmt)
        values = ", ".join(site.names)
        out.append(_stmt(f"{_WATCH}.check({index}, {_INPUTS}, {values})"))
    return out


# ---------------------------------------------------------------- check_finite
def check_gradients(d: Any, grads: Any) -> None:
    """Refuse gradients that hold a NaN or an infinity: a :class:`SourcegradError` naming
    the gradient (the argument and the path inside it) and the user's function. ``d`` is
    the derivative (its ``f``, ``wrt`` and ``wrt_tuple``); ``grads`` what its generated
    function returned."""
    per_wrt = grads if d.wrt_tuple else (grads,)
    varnames = getattr(getattr(d.f, "__code__", None), "co_varnames", ())
    for i, g in zip(d.wrt, per_wrt):
        name = varnames[i] if -len(varnames) <= i < len(varnames) else f"argument {i}"
        for path, leaf, _ in argument_leaves(g):
            counts = bad_count(leaf)
            if counts is None or not counts[0] + counts[1]:
                continue
            where = name + "".join(f"[{k!r}]" for k in path)
            code = getattr(d.f, "__code__", None)
            raise SourcegradError(
                f"the gradient with respect to {where} of {d.f.__qualname__}() is not "
                f"finite ({describe(leaf)}); pass debug_hook=... to find the line that "
                "makes the first NaN or infinity",
                code.co_filename if code else None,
                code.co_firstlineno if code else None,
            )


# ---------------------------------------------------------------- any derivative's graph
def dot_source(derivative: Any, *args: Any) -> str:
    """The DOT graph of ``derivative`` (made by ``grad``, ``value_and_grad`` or ``vjp``):
    the pure derivative for ``args``' signature (rank-generic without ``args``), labelled
    with the shapes of one run at ``args`` where it runs (``grad``/``vjp``; a ``vjp``'s last
    argument is its output gradient)."""
    bound = tuple(getattr(derivative, "bound_self", ()))
    primal = args[:-1] if derivative.mode in ("vjp", "jvp") else args
    entry = derivative.emitted(bound + tuple(primal)) if args else derivative.emitted()
    pure = entry.pure or entry
    run = Emitted(pure.fn, pure.name, pure.text, pure.filename, pure.line_map)
    parsed = derivative.parsed()
    if args and derivative.mode in ("grad", "vjp"):
        run = instrument(run, None, parsed.filename, parsed.line_text)
        seed = {"g_out": args[-1]} if derivative.mode == "vjp" else {}
        try:
            run.fn(*bound, *primal, **seed)
        except Exception:  # noqa: BLE001 - a graph without shapes
            run.watch.graph.shapes = {}
        return run.watch.graph.dot(parsed.filename)
    return graph_of(run).dot(parsed.filename)
