"""What every optimizer shares: per-leaf state over a tree of parameters, in-place steps
without allocation, ``state_dict`` / ``load_state_dict``.

An optimizer holds the parameter tree it was made with and updates its arrays **in place**:
``opt.step(grads)`` with ``grads`` shaped like the parameters (what ``sourcegrad.grad``
returns).

*Parameter groups* are PyTorch's: ``Adam([{"params": tree_a, "lr": 1e-4}, {"params":
tree_b}], lr=1e-3)`` gives each group its own hyperparameters (a group's own, else the
constructor's). Gradients are returned here, not stored on the parameters, so such an
optimizer steps with one gradient tree per group, in the groups' order:
``opt.step([grads_a, grads_b])`` (for a loss of ``(tree_a, tree_b)`` that is exactly what
``sourcegrad.grad(loss)`` returns). Each group is an optimizer of the same class
(``opt.groups[i]``: its ``lr`` is what a schedule made on it sets). Every array a step writes (the optimizer's state and two scratch arrays per dtype,
shared by all leaves of that dtype) is allocated when the optimizer is made, so steps allocate
nothing that grows with the parameters. Each leaf is computed with its own array module
(NumPy, or CuPy for CuPy arrays) and in its own dtype: float32 stays float32.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ..errors import SourcegradError
from ..runtime.containers import is_container
from ..util.tree import (
    Array,
    Tree,
    TreeStructureError,
    array_module,
    is_static_leaf,
    path_text,
    tree_flatten,
    tree_leaves,
    tree_leaves_with_paths,
    tree_map,
    tree_structure,
)
from .packs import make_packs

__all__ = ["Optimizer", "Slot", "OptimizerStateError", "is_param_groups"]


def is_param_groups(params: Tree) -> bool:
    """Whether ``params`` is a list of PyTorch-style parameter groups (dicts with a
    ``"params"`` entry) rather than one tree of parameters."""
    return (
        isinstance(params, (list, tuple))
        and len(params) > 0
        and all(isinstance(g, dict) and "params" in g for g in params)
    )


class OptimizerStateError(SourcegradError, ValueError):
    """A state dict that does not belong to this optimizer (another kind, other state, other
    parameters), or parameters an optimizer cannot update in place."""


class Slot:
    """One parameter array with its state arrays (in the order of
    :meth:`Optimizer.state_names`), its two scratch arrays and its array module."""

    __slots__ = ("param", "state", "s0", "s1", "xp")

    def __init__(self, param: Array, state: list, s0: Array, s1: Array, xp: ModuleType) -> None:
        self.param, self.state, self.s0, self.s1, self.xp = param, state, s0, s1, xp


class Optimizer:
    """The base of the optimizers: subclasses define :meth:`state_names`, :meth:`update`
    (one leaf's step, in place) and, where the step needs numbers that are the same for every
    leaf, :meth:`begin_step`.

    ``lr`` is an attribute (learning-rate schedules set it); the other hyperparameters are in
    ``opt.hyper``. ``opt.steps`` counts the steps taken."""

    def __init__(self, params: Tree, lr: float, hyper: dict) -> None:
        if not lr >= 0.0:
            raise ValueError(f"invalid learning rate: {lr}")
        self.lr = float(lr)
        self.hyper = dict(hyper)
        self.initial_lr = None  # set by the first learning-rate schedule, as torch does
        self.steps = 0
        self.now: dict = {}
        #: one optimizer of this class per parameter group (None without groups)
        self.groups = self._make_groups(params) if is_param_groups(params) else None
        self.params = params if self.groups is None else [g.params for g in self.groups]
        self._treedef = tree_structure(self.params)
        self._slots: list = []
        self._packs: list = []
        self._alone: list = []
        if self.groups is None:
            self._set_slots(self._make_slots(params))

    def _make_groups(self, groups) -> list:
        made, seen = [], set()
        for i, group in enumerate(groups):
            options = {"lr": self.lr, **self.hyper}
            options.update((k, v) for k, v in group.items() if k in options)
            made.append(type(self)(group["params"], **options))
            for path, leaf in tree_leaves_with_paths(group["params"]):
                if not is_static_leaf(leaf) and id(leaf) in seen:
                    raise OptimizerStateError(
                        f"the parameter at {path_text(path)} of group {i} is also in an "
                        "earlier group: it would be updated twice per step"
                    )
                seen.add(id(leaf))
        return made

    @property
    def param_groups(self) -> list:
        """PyTorch's ``param_groups``: one dict per group, its ``"params"`` and its
        hyperparameters (one group holding everything without groups)."""
        parts = [self] if self.groups is None else self.groups
        return [{"params": g.params, "lr": g.lr, **g.hyper} for g in parts]

    # ----- what subclasses define -----
    def state_names(self) -> tuple:
        """The names of the per-leaf state arrays, given ``self.hyper``."""
        return ()

    def initial_state(self, name: str, param: Array) -> Array:
        """The initial value of state ``name`` for ``param``: zeros unless overridden."""
        return array_module(param).zeros_like(param)

    def begin_step(self) -> None:
        """Numbers shared by all leaves in this step (``self.now``), after ``steps`` grew."""

    def update(self, slot: Slot, g: Array) -> None:  # pragma: no cover - abstract
        """One leaf's step, in place: ``slot.param`` and ``slot.state`` take their new values
        for the gradient ``g``, with no allocation (``slot.s0`` and ``slot.s1`` are scratch)."""
        raise NotImplementedError

    # ----- stepping -----
    def step(self, grads: Tree) -> None:
        """One optimisation step: update every parameter array in place from ``grads`` (a tree
        of the parameters' structure; at static leaves anything, it is not read; with
        parameter groups a list of such trees, one per group). Nothing is updated when any
        gradient does not fit."""
        if self.groups is None:
            self._apply(self._checked_leaves(grads))
            return
        if not isinstance(grads, (list, tuple)) or len(grads) != len(self.groups):
            raise TreeStructureError(
                f"an optimizer of {len(self.groups)} parameter groups steps with a list of "
                f"{len(self.groups)} gradient trees, one per group: nothing was updated"
            )
        checked = [group._checked_leaves(g) for group, g in zip(self.groups, grads)]
        self.steps += 1
        for group, leaves in zip(self.groups, checked):
            group._apply(leaves)

    def _checked_leaves(self, grads) -> list:
        leaves: list = []
        if not _plain_leaves(self.params, grads, leaves):  # another kind of tree
            leaves, treedef = tree_flatten(grads)
            if treedef != self._treedef:
                leaves = tree_leaves(tree_map(lambda p, g: g, self.params, grads))
        for slot, g in zip(self._slots, leaves):
            if slot is not None and getattr(g, "shape", ()) != slot.param.shape:
                raise TreeStructureError(
                    f"a gradient of shape {getattr(g, 'shape', ())} for a parameter of shape "
                    f"{slot.param.shape}: nothing was updated"
                )
        return leaves

    def _apply(self, leaves) -> None:
        self.steps += 1
        self.begin_step()
        for i in self._alone:
            self.update(self._slots[i], leaves[i])
        for pack in self._packs:
            pack.step(self.update, self._slots, leaves)

    def _set_slots(self, slots: list) -> None:
        """Use ``slots``: the small leaves stepped in packs (:mod:`sourcegrad.optim.packs`),
        the others (``_alone``, by index) one by one."""
        self._slots = slots
        self._packs = make_packs(slots, Slot)
        packed = {i for pack in self._packs for i in pack.members}
        self._alone = [i for i, s in enumerate(slots) if s is not None and i not in packed]

    # ----- setup -----
    def _make_slots(self, params) -> list:
        names = self.state_names()
        found = []
        seen: set = set()
        for path, leaf in tree_leaves_with_paths(params):
            if is_static_leaf(leaf):
                found.append(None)
                continue
            _check_param(leaf, path, seen)
            found.append(leaf)
        scratch = _scratch_buffers([p for p in found if p is not None])
        slots = []
        for p in found:
            if p is None:
                slots.append(None)
                continue
            xp = array_module(p)
            state = tuple(self.initial_state(name, p) for name in names)
            s0, s1 = (b[: p.size].reshape(p.shape) for b in scratch[_scratch_key(p)])
            slots.append(Slot(p, state, s0, s1, xp))
        return slots

    # ----- state -----
    def state_dict(self) -> dict:
        """A snapshot of everything a step depends on, as a new tree of copies (later steps do
        not change it): ``{"optimizer": class name, "steps": int, "lr": float, "initial_lr":
        float or None, "hyper": {...}, "state": {name: tree shaped like the parameters}}``.
        ``sourcegrad.util.save`` writes it; :meth:`load_state_dict` restores it. With
        parameter groups, ``"groups"`` holds each group's state dict and ``"state"`` is
        empty."""
        if self.groups is not None:
            return {**self._header(), "state": {}, "groups": [g.state_dict() for g in self.groups]}
        state = {}
        for i, name in enumerate(self.state_names()):
            arrays = [leaf if s is None else s.state[i].copy() for s, leaf in self._pairs()]
            state[name] = self._treedef.unflatten(arrays)
        return {**self._header(), "state": state}

    def _header(self) -> dict:
        return {
            "optimizer": type(self).__name__,
            "steps": self.steps,
            "lr": self.lr,
            "initial_lr": self.initial_lr,
            "hyper": dict(self.hyper),
        }

    def _pairs(self):
        return zip(self._slots, tree_leaves(self.params))

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a :meth:`state_dict` of an optimizer of the same class over parameters of
        the same structure and shapes (its state arrays are copied into this optimizer's own,
        cast to the parameters' dtypes; hyperparameters, ``lr`` and the step count are taken
        from it, as PyTorch takes them, and the state they need is made), so that the next steps are exactly those the saved optimizer would have
        taken. Raises :class:`OptimizerStateError` naming what differs."""
        sd = state_dict
        if sd.get("optimizer") != type(self).__name__:
            raise OptimizerStateError(
                f"a state dict of {sd.get('optimizer')!r} given to {type(self).__name__}"
            )
        if (self.groups is None) != ("groups" not in sd):
            raise OptimizerStateError(
                "a state dict with parameter groups given to an optimizer without, or the "
                "other way round"
            )
        if self.groups is not None:
            self._load_groups(sd)
            return
        if set(sd["hyper"]) != set(self.hyper):
            raise OptimizerStateError(
                f"hyperparameters {sorted(sd['hyper'])}, expected {sorted(self.hyper)}"
            )
        mine, self.hyper = self.hyper, {k: _plain(v) for k, v in sd["hyper"].items()}
        names = self.state_names()  # under the loaded options (momentum, amsgrad, centered)
        try:
            if tuple(sd["state"]) != names:
                raise OptimizerStateError(
                    f"state {tuple(sd['state'])}, its options keep {names}: a damaged state dict"
                )
            for name in names:
                self._check_state(name, sd["state"][name])
        except OptimizerStateError:
            self.hyper = mine
            raise
        if any(len(s.state) != len(names) for s in self._slots if s is not None):
            self._set_slots(self._make_slots(self.params))  # other options, other state
        for i, name in enumerate(names):
            for slot, (_, leaf) in zip(self._slots, tree_leaves_with_paths(sd["state"][name])):
                if slot is not None:
                    slot.state[i][...] = leaf
        self.lr = float(sd["lr"])
        self.initial_lr = None if sd["initial_lr"] is None else float(sd["initial_lr"])
        self.steps = int(sd["steps"])

    def _load_groups(self, sd) -> None:
        if len(sd["groups"]) != len(self.groups):
            raise OptimizerStateError(
                f"a state dict of {len(sd['groups'])} parameter groups given to an optimizer "
                f"of {len(self.groups)}"
            )
        before = [g.state_dict() for g in self.groups]
        try:
            for group, theirs in zip(self.groups, sd["groups"]):
                group.load_state_dict(theirs)
        except OptimizerStateError:
            for group, mine in zip(self.groups, before):  # all or nothing
                group.load_state_dict(mine)
            raise
        self.lr = float(sd["lr"])
        self.initial_lr = None if sd["initial_lr"] is None else float(sd["initial_lr"])
        self.hyper = {k: _plain(v) for k, v in sd["hyper"].items()}
        self.steps = int(sd["steps"])

    def _check_state(self, name, tree) -> None:
        theirs = tree_leaves_with_paths(tree)
        ours = tree_leaves_with_paths(self.params)
        if [p for p, _ in theirs] != [p for p, _ in ours]:
            raise OptimizerStateError(
                f"state {name!r} has leaves at {[path_text(p) for p, _ in theirs]}, the "
                f"parameters at {[path_text(p) for p, _ in ours]}"
            )
        for slot, (path, leaf) in zip(self._slots, theirs):
            if slot is not None and tuple(np.shape(leaf)) != slot.param.shape:
                raise OptimizerStateError(
                    f"state {name!r} at {path_text(path)} has shape {tuple(np.shape(leaf))}, "
                    f"the parameter {slot.param.shape}"
                )


def _plain_leaves(like, tree, out: list) -> bool:
    """Whether ``tree`` has the structure of ``like`` built of plain dicts, lists and tuples
    only (a dict's keys in any order); if so its leaves, in ``like``'s order, are appended to
    ``out``. The common case, walked without building tree definitions."""
    t = type(like)
    if t is np.ndarray and type(tree) is np.ndarray:  # the common leaf, without a type walk
        out.append(tree)
        return True
    if t is dict:
        if type(tree) is not dict or tree.keys() != like.keys():
            return False
        for k, v in like.items():
            if not _plain_leaves(v, tree[k], out):
                return False
        return True
    if t is list or t is tuple:
        if type(tree) is not t or len(tree) != len(like):
            return False
        for v, g in zip(like, tree):
            if not _plain_leaves(v, g, out):
                return False
        return True
    if is_container(like) or is_container(tree):
        return False
    out.append(tree)
    return True


def _plain(v):
    """A hyperparameter as a Python number (a loaded file may hold NumPy scalars)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return tuple(_plain(x) for x in v)
    return v


def _check_param(leaf, path, seen) -> None:
    where = path_text(path)
    if isinstance(leaf, (float, complex, np.generic)) or not hasattr(leaf, "dtype"):
        raise OptimizerStateError(
            f"the parameter at {where} is a {type(leaf).__name__}, which cannot be updated "
            "in place: make it an array (np.array(x) for a scalar)"
        )
    if np.dtype(leaf.dtype).kind != "f":
        raise OptimizerStateError(
            f"the parameter at {where} has dtype {leaf.dtype}: optimizers update "
            "floating-point arrays"
        )
    flags = getattr(leaf, "flags", None)
    if flags is not None and not getattr(flags, "writeable", True):
        raise OptimizerStateError(f"the parameter at {where} is a read-only array")
    if id(leaf) in seen:
        raise OptimizerStateError(
            f"the parameter at {where} is the same array as another leaf: it would be "
            "updated twice per step"
        )
    seen.add(id(leaf))


def _scratch_key(p):
    return (array_module(p).__name__, np.dtype(p.dtype).str)


def _scratch_buffers(params) -> dict:
    """Two flat scratch arrays per (array module, dtype), as large as the largest leaf."""
    sizes: dict = {}
    modules: dict = {}
    for p in params:
        key = _scratch_key(p)
        sizes[key] = max(sizes.get(key, 0), p.size)
        modules[key] = (array_module(p), p.dtype)
    return {
        key: tuple(modules[key][0].empty(n, dtype=modules[key][1]) for _ in range(2))
        for key, n in sizes.items()
    }
