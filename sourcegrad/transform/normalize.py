"""Pass 2 — normalize: lower the user's function to the core language.

Guarantees to the next pass (``Core``):

* every statement is one of ``name = <simple>``, ``<simple>`` (an expression statement, kept for
  its side effects), ``assert ...`` or, last, ``return <atom or tuple of atoms>``;
* a *simple* expression applies one operation to *atoms* (names, constants, static references
  such as ``np.pi``, and tuples/lists of atoms); expressions sourcegrad does not look inside
  (``a and b``, comprehensions, ...) are kept whole and marked opaque;
* every name is assigned once (a reassigned user variable gets a versioned name ``x_1``), so
  each value the adjoint needs is still there when the adjoint runs;
* a read of an argument through constant keys (``params["W"][0]``) is one *path read*
  statement, shared by every place that reads the same path;
* every statement carries the user's line number (``lineno``), the index of the user statement
  it came from (node fact ``group``) and whether its target is a temporary (``temp``).

What the core cannot express is refused here with the user's file and line.
"""

from __future__ import annotations

import inspect
import sys
import threading
import types
from collections import OrderedDict

import gast

from ..errors import SourcegradError, UnsupportedSyntaxError
from ..runtime.containers import gradient_like
from ..runtime.helpers import expand_to, nondiff, seed_like, sum_to, unindex, unreduce
from ..runtime.signature import rank_signature
from . import syntax as S
from .aliasing import aliases_of_written, augmented_names, item_aliases, returned_parameter
from .container_protocol import lower_container_protocol
from .finally_blocks import lower_finally_blocks
from .forms import Core, copied_core
from .generator_methods import list_generator_methods
from .getters import lower_getters
from .harmless_calls import harmless_call
from .held_items import follow_held_items
from .held_objects import follow_held_objects
from .helper_results import helper_results
from .inline_methods import followed_reads, inline_effect_methods
from .iterator_calls import lower_iterator_calls
from .itertools_calls import lower_itertools
from .jumps import lower_jumps
from .lift_closures import lift_captured_variables
from .lists import lower_list_operations
from .lower_expressions import ExpressionLowering
from .lower_loops import LoopLowering
from .lower_statements import StatementLowering
from .matches import lower_matches
from .name_kinds import NameKinds
from .node_facts import set_fact
from .object_rebindings import split_object_rebindings
from .own_attributes import read_own_stores
from .parse import UNRESOLVED, Parsed, parse, resolve
from .path_reads import PathReads, follow_keys
from .property_reads import GETTERS
from .record_replace import lower_record_replaces, replaced_names
from .rule_binding import is_user_function
from .second_names import merge_second_names
from .shared_writes import follow_shared_writes
from .state_between_calls import follow_state_between_calls
from .stepped_iterators import lower_stepped_iterators
from .walk import inside_loop, rebound_in_compound
from .with_blocks import lower_with_blocks
from .writes import lower_writes, numpy_in_scope

__all__ = ["RUNTIME_NAMES", "normalize"]

#: names generated code may reference besides the user's own (kept free of collisions)
RUNTIME_NAMES = frozenset(
    {"np"}
    | {
        fn.__name__
        for fn in (sum_to, unreduce, expand_to, unindex, gradient_like, seed_like, nondiff)
    }
)


#: (a function sourcegrad generated (a gradient), its arguments' ranks) -> its core, the
#: GENERATED_KEPT most recently made: forward mode over one gradient for two parts of its
#: result (an hvp's first call returns the value too, its later calls the tangent alone)
#: normalizes it once (a core refers to its function: kept by a bounded cache, not a weak one)
_GENERATED: OrderedDict = OrderedDict()
_GENERATED_LOCK = threading.Lock()
GENERATED_KEPT = 16


def normalize(parsed: Parsed, examples=None) -> Core:
    """Lower ``parsed`` to core form (see the module docstring for the guarantees).
    ``examples``, the arguments the derivative is built for, tell which arguments are dicts
    (a loop over a dict iterates its keys). ``parsed`` is not changed: the core is built
    from a copy of its tree. Generated code is normalized once for the ranks of
    ``examples`` (what normalizing it again for them gives), each caller given a copy."""
    if examples is None or not parsed.filename.startswith("<sourcegrad"):
        return _Normalizer(parsed, examples).run()
    key = (parsed.fn, tuple([rank_signature(a) for a in examples]))
    try:
        with _GENERATED_LOCK:
            kept = _GENERATED.get(key)
    except TypeError:  # an argument whose signature is not hashable
        return _Normalizer(parsed, examples).run()
    if kept is None:
        kept = _Normalizer(parsed, examples).run()
        with _GENERATED_LOCK:
            _GENERATED[key] = kept
            while len(_GENERATED) > GENERATED_KEPT:
                _GENERATED.popitem(last=False)
    return copied_core(kept)


def _explicit_super(fn, receiver: str) -> None:
    """``super()`` in a method as ``super(__class__, self)``, in place: the zero-argument form
    finds its class in the method's own frame, which the derivative's code does not have (the
    ``__class__`` cell is passed to it as a closure variable)."""
    nested = {
        id(n)
        for d in S.walk(fn)
        if d is not fn and isinstance(d, (gast.FunctionDef, gast.Lambda))
        for n in S.walk(d)
    }
    for node in S.walk(fn):
        if (
            id(node) not in nested
            and isinstance(node, gast.Call)
            and isinstance(node.func, gast.Name)
            and node.func.id == "super"
            and not node.args
            and not node.keywords
        ):
            node.args = [S.name("__class__"), S.name(receiver)]


def _users_class(obj) -> bool:
    """Whether ``obj`` is a class of the user's (whose objects may hold what they are given,
    unlike ``list(hs)``)."""
    module = (getattr(obj, "__module__", "") or "").split(".")[0]
    return isinstance(obj, type) and module not in sys.stdlib_module_names | {"numpy"}


def _resolver(parsed: Parsed, fn, params, examples):
    """``resolve(expr)``: the live object ``expr`` names (:func:`~.parse.resolve`), and for
    ``p.attr`` with ``p`` an argument the function never rebinds (or the variable of its one
    loop over such an argument whose items share a class), ``attr`` as that class defines it
    (fixed for the classes the build is specialised to); for a name bound once to a call of
    one of the user's classes, that class's properties and generator methods."""
    names, loops, assigns = [], [], []  # (one walk for the three questions below)
    for n in S.nodes_of(fn, (gast.Name, gast.For, gast.comprehension, gast.Assign)):
        (names if type(n) is gast.Name else assigns if type(n) is gast.Assign else loops).append(n)
    stored = [n.id for n in names if isinstance(n.ctx, gast.Store)]
    bound = set(params) | set(stored)
    classes, given = {}, {}
    if examples is not None:
        keep = replaced_names(fn, parsed.globals)  # `p = dataclasses.replace(p, ...)`
        given = {p: v for p, v in zip(params, examples) if p not in stored or p in keep}
        classes = {p: type(v) for p, v in given.items()}
        classes.update(_loop_item_classes(loops, given, stored))
    built = _built_objects(parsed, assigns, stored, bound)

    def resolved(e):
        found = resolve(parsed, e, bound)
        if found is UNRESOLVED and isinstance(e, gast.Attribute) and isinstance(e.value, gast.Name):
            cls = classes.get(e.value.id)
            if cls is not None:
                return inspect.getattr_static(cls, e.attr, UNRESOLVED)
            static = inspect.getattr_static(built.get(e.value.id), e.attr, UNRESOLVED)
            if type(static) in GETTERS or inspect.isgeneratorfunction(static):
                return static  # (of an object built here: its properties and generators only)
        return found

    def class_of(key):
        if isinstance(key, str):
            return classes.get(key) or built.get(key)
        found = type(_example_items(key, given)) if examples is not None else None
        return found if _users_class(found) and found is not type(None) else None

    resolved.class_of = class_of
    return resolved


def _loop_item_classes(loops: list, given: dict, stored: list) -> dict:
    """{name: class} for each name bound only by ``loops`` (the function's ``for`` loops and
    comprehensions: ``for k, v in d.items()`` by position) whose items, in the call the build
    is for, are all of one class."""
    kinds: dict = {}
    for loop in loops:
        items = _example_items(loop.iter, given)
        items = list(items) if isinstance(items, (list, tuple)) else []
        target = loop.target
        if isinstance(target, gast.Name):
            kinds.setdefault(target.id, []).append({type(v) for v in items})
        elif isinstance(target, gast.Tuple):
            for j, t in enumerate(target.elts):
                if isinstance(t, gast.Name):
                    parts = [v[j] if isinstance(v, tuple) and len(v) > j else v for v in items]
                    kinds.setdefault(t.id, []).append({type(v) for v in parts})
    return {
        name: next(iter(found[0]))
        for name, found in kinds.items()
        if stored.count(name) == len(found) and len(set().union(*found)) == 1 and all(found)
    }


def _example_items(e, given: dict):
    """The items the loop over ``e`` takes in the call the build is for, where ``e`` is an
    argument, a path of constant keys and attributes from one (``self.layers``), or its
    ``.values()`` or ``.items()``; else None."""
    values = isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and not e.args
    if values and e.func.attr in ("values", "items"):
        found = _example_items(e.func.value, given)
        if not isinstance(found, dict):
            return None
        return list(found.values() if e.func.attr == "values" else found.items())
    keys = []
    while isinstance(e, gast.Attribute) or (
        isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Constant)
    ):
        keys.append(e.attr if isinstance(e, gast.Attribute) else e.slice.value)
        e = e.value
    if not isinstance(e, gast.Name) or e.id not in given:
        return None
    return follow_keys(given[e.id], tuple(reversed(keys)), None)


def _built_objects(parsed: Parsed, assigns: list, stored: list, bound: set) -> dict:
    """{name: class} for each name the function binds once (``assigns``: its assignments),
    to a call of one of the user's classes (``b = Box(x)``): its properties are read through
    their getters."""
    built = {}
    for stmt in assigns:
        target, value = stmt.targets[0], stmt.value
        if (
            len(stmt.targets) == 1
            and isinstance(target, gast.Name)
            and stored.count(target.id) == 1
            and isinstance(value, gast.Call)
        ):
            cls = _class_made(resolve(parsed, value.func, bound))
            if _users_class(cls):
                built[target.id] = cls
    return built


def _class_made(callee):
    """The class a call of ``callee`` makes: the class itself; the class a classmethod of
    the user's is bound to where each of its ``return`` statements is ``return cls(...)``
    (``w = Weighted.from_logits(z)``); the class a function of the user's names in each of
    its ``return Box(...)`` (``b = make_box(v)``); None where not known."""
    if isinstance(callee, type):
        return callee
    owner = getattr(callee, "__self__", None)
    function = callee.__func__ if isinstance(owner, type) else callee
    if not (isinstance(function, types.FunctionType) and is_user_function(function)):
        return None
    try:
        node = parse(function).node
    except SourcegradError:
        return None
    first = node.args.args[0].id if node.args.args else None
    made = set()
    for r in S.nodes_of(node, (gast.Return,)):
        if not (isinstance(r.value, gast.Call) and isinstance(r.value.func, gast.Name)):
            return None
        name = r.value.func.id
        made.add(
            owner if isinstance(owner, type) and name == first else function.__globals__.get(name)
        )
    cls = made.pop() if len(made) == 1 else None
    return cls if _users_class(cls) else None


def _stored(fn) -> set:
    return {n.id for n in S.name_nodes(fn) if isinstance(n.ctx, gast.Store)}


def rebind_nested_defs(fn, names: S.NameGen) -> None:
    """A nested ``def f`` that runs more than once (in a loop) or whose name is bound
    elsewhere too becomes ``def f_def`` followed by ``f = f_def``, in place: an assignment,
    which the reverse pass saves on the tape like any other, so that the adjoint of each call
    of ``f`` differentiates the function that call ran."""
    bindings: dict = {}
    for node in S.walk(fn):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Param)):
            bindings[node.id] = bindings.get(node.id, 0) + 1
        elif isinstance(node, gast.FunctionDef) and node is not fn:
            bindings[node.name] = bindings.get(node.name, 0) + 1

    def visit(block, looping):
        out = []
        for stmt in block:
            out.append(stmt)
            if isinstance(stmt, gast.FunctionDef):
                if looping or bindings.get(stmt.name, 0) > 1:
                    user = stmt.name
                    stmt.name = names.fresh(user + "_def")
                    out.append(S.assign(user, S.name(stmt.name), stmt.lineno))
                continue
            inner = looping or isinstance(stmt, (gast.For, gast.While))
            for attr in ("body", "orelse"):
                if getattr(stmt, attr, None):
                    setattr(stmt, attr, visit(getattr(stmt, attr), inner))
        return out

    fn.body = visit(fn.body, False)


class _Normalizer(StatementLowering, LoopLowering, ExpressionLowering, PathReads):
    def __init__(self, parsed: Parsed, examples=None):
        self.p = parsed
        self.examples = examples
        fn = parsed.node
        args = fn.args
        where = (parsed.filename, fn.lineno)
        if args.vararg is not None or args.kwarg is not None:
            raise UnsupportedSyntaxError(
                f"{fn.name}() takes *args or **kwargs; give every argument a name so that "
                "`wrt` can select it",
                *where,
            )
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        self.fn = fn = S.clone(fn)  # the parsed tree is shared by every build: rewrite a copy
        self.lineno = fn.lineno
        self.list_names = self.lower_python_forms(fn, examples)
        nested = {n.name for n in S.walk(fn) if isinstance(n, gast.FunctionDef) and n is not fn}
        writes_names = S.NameGen(S.names_in(fn) | RUNTIME_NAMES | set(parsed.closure))
        lower_writes(fn, parsed, set(self.params) | _stored(fn) | nested, writes_names)
        self.shared_checks, self.shared_writes = [], []  # (see follow_shared_writes)
        if not parsed.filename.startswith("<sourcegrad"):  # (the user's writes only)
            numpy = numpy_in_scope(parsed, set(self.params) | _stored(fn) | nested)
            follow_held_items(fn, self.params, examples, numpy)
            self.shared_checks, self.shared_writes = follow_shared_writes(
                fn,
                self.params,
                examples,
                self.list_names,
                numpy,
                helper_results(parsed, S.bound_names(fn)),
            )
        stored = _stored(fn)
        self.local_names = set(self.params) | stored | nested
        # an argument assigned anywhere, or written into in a loop or branch, is read as a
        # value, never by path: in a loop, its path read would be made once before the loop,
        # from the value it had on entry
        self.reassigned_params = set(self.params) & (stored | rebound_in_compound(fn.body))
        self.rebound_params = set(self.params) & stored  # (an item write keeps a dict a dict)
        self.names = S.NameGen(S.names_in(fn) | RUNTIME_NAMES | set(parsed.closure))
        self.env = {p: p for p in self.params}
        self.unversioned = rebound_in_compound(fn.body) | S.captured_names(fn)
        self.find_aliases(fn)
        self.depth = 0  # nesting of if/for/while around the statement being lowered
        self.branches = 0  # nesting of if (also a choice: `a if c else b`, `a and b`)
        self.item_examples: dict = {}  # loop variable -> the structure all its items share
        self.pending_items: dict = {}  # loop variable -> that structure, before its binding
        self.loop_getters: dict = {}  # id of a loop's `item = seq[k]` value -> the item's name
        self.comprehension_targets: set = set()  # a comprehension's variables, renamed
        self.paths = {}  # (param, keys) -> name
        self.path_of = {}  # name -> (param, keys)
        self.path_syntax = {}  # (param, keys) -> ("item" | "attr", ...)
        self.out: list = []
        self.top_out = self.out
        self.group = 0
        self.returns_tuple = False
        self.user_vars: set = set()
        self.conditions: set = set()
        self.dict_keys: dict = {}  # name in the core -> the string keys of the dict it holds
        self.fresh_items: set = set()  # (name, constant key): an item given a new array
        self.display_items: dict = {}  # (name, constant key) -> its display's link

    def find_aliases(self, fn) -> None:
        """The names that may share memory with names written into, and the loops' line
        spans (a write in a loop may come after a link made later in the loop's body)."""
        viewed = self.viewed_argument
        self.aliases = aliases_of_written(fn, viewed_argument=viewed, lists=self.list_names)
        given = zip(self.params, self.examples or ())
        self.updated_containers = self.list_names | {
            p for p, v in given if isinstance(v, (dict, list))
        }
        self.item_aliases = item_aliases(fn, viewed, self.updated_containers)
        self.augmented_aliases = aliases_of_written(fn, augmented_names(fn), viewed)
        self.loop_spans = [
            (
                n.lineno,
                max(
                    (getattr(m, "end_lineno", None) or getattr(m, "lineno", 0) or 0)
                    for m in S.walk(n)
                ),
            )
            for n in S.walk(fn)
            if isinstance(n, (gast.For, gast.While))
        ]
        self.element_sites = {
            (other, line)
            for links in (self.aliases, self.item_aliases)
            for facts in links.values()
            for other, line, e in facts
            if e
        } | {site for site, _, _ in self.shared_checks}
        self.element_names: dict = {}  # (user name, line) -> its name in the core
        self.alias_checks: list = []  # ((user name, line), message, line of the write)

    def viewed_argument(self, call):
        """The argument of ``call``, a call of one of the user's functions, whose memory the
        function's result may share (:func:`~.aliasing.returned_parameter`); else None."""
        fn = resolve(self.p, call.func, self.local_names)
        if not is_user_function(fn):
            return None
        try:
            param = returned_parameter(parse(fn).node)
            bound = inspect.signature(fn).bind(
                *call.args, **{k.arg: k.value for k in call.keywords}
            )
        except (SourcegradError, TypeError, ValueError):
            return None
        argument = bound.arguments.get(param)
        return argument if isinstance(argument, gast.AST) else None

    # ---------------------------------------------------------------- errors
    def lower_python_forms(self, fn, examples) -> set:
        """Rewrite ``fn`` in place into the forms the lowering below reads: ``match``, ``map``/
        ``filter``/``reduce``, ``super()``, jumps, closures, nested defs and list operations;
        returns the names known to hold lists."""
        parsed, args = self.p, fn.args

        def names():  # fresh names, given what the function uses by now
            return S.NameGen(S.names_in(fn) | RUNTIME_NAMES | set(parsed.closure))

        if not parsed.filename.startswith("<sourcegrad"):  # (`c = Cache(w)` after another `c`)
            split_object_rebindings(fn, parsed, names(), _users_class)
        class_of = _resolver(parsed, fn, self.params, examples).class_of
        given = dict(zip(self.params, examples or ()))

        def arrays(tree, name: str, stmt) -> bool:
            local = S.bound_names(tree)
            numpy = numpy_in_scope(parsed, local)
            kinds = NameKinds(tree, given, numpy, helper_results(parsed, local))
            return kinds.ndim_at(stmt, name) >= 1

        if not parsed.filename.startswith("<sourcegrad"):  # (the user's objects only)
            numpy = numpy_in_scope(parsed, S.bound_names(fn) | set(self.params))
            follow_held_objects(fn, parsed, self.params, examples, numpy, names())
        kept, self.inlined = inline_effect_methods(fn, parsed, class_of, names(), arrays)
        read_own_stores(fn, names(), harmless_call(parsed, S.bound_names(fn)))
        self.kept_state = follow_state_between_calls(fn, parsed, given, names())
        self.followed_reads = followed_reads(fn, kept)
        try:
            lower_matches(fn, names())
        except UnsupportedSyntaxError as exc:  # placed in the user's file here
            self.refuse(exc.reason, exc)
        lower_finally_blocks(fn, names())
        self.quiet = lower_with_blocks(fn, parsed)
        if "__class__" in parsed.closure and args.args:
            _explicit_super(fn, args.args[0].id)
        resolve = _resolver(parsed, fn, self.params, examples)
        replaced = lower_record_replaces(fn, resolve.class_of, parsed.globals)
        if lower_container_protocol(fn, resolve.class_of, parsed.globals) or replaced:
            resolve = _resolver(parsed, fn, self.params, examples)
        lower_getters(fn, resolve)
        lower_itertools(fn, resolve, names())
        list_generator_methods(fn, resolve, parsed.globals)
        lower_iterator_calls(fn, resolve, names())
        lower_stepped_iterators(fn, resolve, names())
        self._note_written_forms(fn)
        merge_second_names(fn, self.params)
        lower_jumps(fn, names())
        lift_captured_variables(fn, parsed)
        rebind_nested_defs(fn, names())
        try:
            resolved = _resolver(parsed, fn, self.params, examples)
            return lower_list_operations(fn, names(), examples, lambda f: _users_class(resolved(f)))
        except UnsupportedSyntaxError as exc:  # placed in the user's file here
            self.refuse(exc.reason, exc)
        return set()  # (refuse raises)

    def _note_written_forms(self, fn) -> None:
        """Keep what each lowered assignment was written as (for messages), and refuse a
        ``break``/``continue`` outside a loop."""
        self.written_as = {
            s.targets[0].id: s.written_as
            for s in S.nodes_of(fn, (gast.Assign,))
            if hasattr(s, "written_as") and isinstance(s.targets[0], gast.Name)
        }
        for node in S.nodes_of(fn, (gast.Break, gast.Continue)):
            if not inside_loop(fn.body, node):
                self.refuse(f"`{type(node).__name__.lower()}` outside a loop", node)

    def refuse(self, message: str, node=None):
        lineno = getattr(node, "lineno", None) or self.lineno
        raise UnsupportedSyntaxError(message, self.p.filename, lineno)

    # ---------------------------------------------------------------- driver
    def run(self) -> Core:
        fn = self.fn
        body = list(fn.body)
        for i, stmt in enumerate(body):
            self.group = i
            self.lineno = stmt.lineno
            if isinstance(stmt, gast.Return) and i != len(body) - 1:
                self.refuse("early `return` is not supported yet; return once, at the end", stmt)
            self.statement(stmt)
        if not body or not isinstance(body[-1], gast.Return):
            self.refuse(f"{fn.name}() must end with `return <value>` to be differentiated", fn)
        node = gast.FunctionDef(
            name=fn.name,
            args=fn.args,
            body=self.out,
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        node.lineno = fn.lineno
        user = {v for k, v in self.env.items()} | set(self.params)
        return Core(
            self.p,
            node,
            self.params,
            self.names,
            user_names=user | self.user_vars,
            paths=dict(self.path_of),
            returns_tuple=self.returns_tuple,
            alias_checks=[
                (self.element_names.get(site), message, line)
                for site, message, line in self.alias_checks
            ],
            array_checks=[
                (self.element_names.get(site), message, line)
                for site, message, line in self.shared_checks
            ],
            followed_writes=self.shared_writes + self.inlined,
            conditions=set(self.conditions),
            quiet=self.quiet,
            final_names={p: self.env.get(p, p) for p in self.params},
            followed_reads=self.followed_reads,
            kept_state=self.kept_state,
        )

    def emit(self, stmt, temp: bool, path=None):
        """Append ``stmt`` to the statements being built, at the current user line."""
        stmt.lineno = self.lineno
        set_fact(stmt, "group", self.group)
        set_fact(stmt, "temp", temp)
        set_fact(stmt, "path", path)
        self.out.append(stmt)
