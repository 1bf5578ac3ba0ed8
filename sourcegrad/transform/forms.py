"""The data handed from pass to pass: every fact a declared field.

* :class:`Core` — made by normalize: the function in core form;
* :class:`Op` and :class:`Analysis` (with :class:`ShapeClasses`) — made by analysis;
* :class:`Derivative` — made by reverse or forward, then rewritten by simplify and optimize.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import gast

from .. import rules as R
from . import syntax as S
from .parse import Parsed
from .templates import Refs


@dataclass
class Core:
    """A function in core form plus what later passes need to know about it."""

    parsed: Parsed
    node: gast.FunctionDef
    params: list
    names: S.NameGen
    user_names: set = field(default_factory=set)
    paths: dict = field(default_factory=dict)  # path-read target -> (param, key tuple)
    returns_tuple: bool = False
    #: the arguments of the call being specialised to, if any (set by analysis; dropped by
    #: the layer above once a build no longer needs them)
    example_args: object = None
    alias_checks: list = field(default_factory=list)  # (name, message, line): name must be a number
    array_checks: list = field(default_factory=list)  # (name, message, line): must be an array
    followed_writes: list = field(default_factory=list)  # writes into `z` through `w = z[idx]`
    conditions: set = field(default_factory=set)  # names holding an if/while test, nothing else
    quiet: dict = field(default_factory=dict)  # user line -> with_blocks.Layers around it
    #: set by analysis: classified with the forward-mode (tangent) rules
    forward: bool = False
    #: each argument's name -> the name holding its value where the function returns
    final_names: dict = field(default_factory=dict)
    #: ``(argument, paths, line)`` of each argument the function writes into in place, whose
    #: final value the derivative leaves in the caller's object (set by the pipeline)
    written: tuple = ()
    #: cache of the names the function binds (arguments, assigned names, nested functions)
    bound_locals: set | None = None
    #: ``(receiver, attribute)`` a method inlined at its call stores and the function reads
    #: back as the value (``net.probs`` after ``net.forward(x)``): no state read
    followed_reads: frozenset = frozenset()
    #: ``(receiver, attribute, line)`` of the state an object keeps from call to call that
    #: the function reads and stores, followed as a local (:mod:`.state_between_calls`)
    kept_state: tuple = ()


def copied_core(core: Core) -> Core:
    """A copy of ``core`` that the passes may rewrite without touching ``core``: what
    normalizing the function again for arguments of the same ranks would give."""
    names = copy.copy(core.names)
    names.taken = set(core.names.taken)
    return dataclasses.replace(
        core,
        node=S.clone(core.node),
        params=list(core.params),
        names=names,
        user_names=set(core.user_names),
        paths=dict(core.paths),
        alias_checks=list(core.alias_checks),
        conditions=set(core.conditions),
    )


@dataclass
class Op:
    """One operation of the core language."""

    key: object
    rule: object  # Rule, "constant", or None
    bound: dict = field(default_factory=dict)  # rule parameter -> atom (or tuple of atoms)
    operands: list = field(default_factory=list)  # every atom the operation reads
    pure: bool = True
    #: how the operation reads in an error message (:attr:`label`): its text, or the node
    #: whose source text it is (unparsed only where a message reads it)
    described: object = ""
    user_call: tuple = ()  # (function, args, kwargs) for a call to the user's own function
    dynamic_call: tuple = ()  # (function name, args) for a call to a local function

    @property
    def label(self) -> str:
        """How the operation reads in an error message."""
        if not isinstance(self.described, str):
            self.described = S.text(self.described)
        return self.described

    @property
    def differentiable(self) -> bool:
        return isinstance(self.rule, R.Rule)

    def diff_atoms(self):
        """Atoms whose adjoints this operation contributes to. For an operation sourcegrad
        knows nothing about, every operand: so that a differentiated value flowing through it
        is refused instead of silently getting a zero gradient."""
        if self.rule is None:
            return list(self.operands)
        if not self.differentiable:
            return []
        out = []
        for p in self.rule.differentiable:
            if p in self.bound:
                v = self.bound[p]
                out.extend(v.elts if isinstance(v, (gast.Tuple, gast.List)) else [v])
        return out


@dataclass(eq=False)
class ShapeClasses:
    """Union-find over names whose shapes are equal whatever the arguments."""

    parent: dict = field(default_factory=dict)
    local: dict = field(default_factory=dict)  # id(statement) -> pairs of names equal there
    multi: set = field(default_factory=set)  # names assigned more than once: in no class
    stmt: object = None  # the statement whose facts are being recorded

    def find(self, x):
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    def union(self, a, b):
        if a in self.multi or b in self.multi:
            # true of the values this statement reads and writes only: kept for its adjoint
            self.local.setdefault(id(self.stmt), set()).add(frozenset((a, b)))
            return
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def same(self, a, b) -> bool:
        return self.find(a) == self.find(b)


@dataclass
class Analysis:
    """What analysis found about a :class:`Core` (see ``analysis.analyze``)."""

    core: Core
    wrt: tuple
    ops: dict  # id(statement) -> Op
    active: set
    ranks: dict
    same_shape: ShapeClasses
    output: object  # the atom whose value is differentiated
    varied_in: dict = field(default_factory=dict)  # id(stmt) -> names varied before it
    #: names surely holding floating values (a write into one keeps the value: floating.py)
    floating: frozenset = frozenset()
    #: ids of the statements `x_1 = x + v` of `x += v` cast back to x's dtype (in_place_casts.py)
    in_place_casts: frozenset = frozenset()
    #: set by reverse: the name generated code calls ``unreduce`` by (for shape keys)
    unreduce_name: str | None = None


@dataclass
class Derivative:
    """A derivative function (reverse, vjp or jvp) and what made it."""

    node: gast.FunctionDef
    refs: Refs
    analysis: Analysis
    mode: str
    adj_names: dict  # primal name -> adjoint name

    @property
    def adj_of(self) -> dict:
        return {v: k for k, v in self.adj_names.items()}
