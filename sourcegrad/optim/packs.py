"""Small parameters stepped together: one update over a flat copy of many leaves.

Every optimizer's update is elementwise, so it gives the same numbers on a flat array holding
several leaves one after another as on each leaf alone. For small leaves (a bias, a small
kernel) a step costs the dozen ufunc calls of the update, not the arithmetic; a *pack* runs
those calls once for all the small leaves of one array module and dtype: the parameters and
gradients are copied into flat arrays, the update runs on them, the parameters are copied
back. The state of a packed leaf is a view into the pack's flat state, so reading or
restoring it leaf by leaf (``state_dict``, ``load_state_dict``) sees the same arrays.

Large leaves are updated alone: there the copies would cost more than the calls they save.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..util.tree import Array

__all__ = ["PACK_LEAF_LIMIT", "Pack", "make_packs"]

#: leaves of at most this many elements are packed (where a ufunc call's fixed cost, about a
#: microsecond, is still more than its arithmetic)
PACK_LEAF_LIMIT = 1 << 14


class Pack:
    """Some slots' leaves as flat arrays: ``slot`` (a :class:`~sourcegrad.optim.base.Slot`
    over the flat parameter, state and scratch arrays), and per member its index among the
    optimizer's slots and the views of the flat parameter and gradient holding it."""

    __slots__ = ("members", "slot", "grad", "param_views", "grad_views")

    def __init__(self, members, slot, grad, param_views, grad_views) -> None:
        self.members, self.slot, self.grad = members, slot, grad
        self.param_views, self.grad_views = param_views, grad_views

    def step(self, update: Callable, slots: list, grads: list) -> None:
        """``update`` run once over the members' parameters (``slots``) and gradients
        (``grads``, the optimizer's leaves in slot order), the parameters written back in
        place."""
        xp, members = self.slot.xp, self.members
        for view, i in zip(self.param_views, members):
            view[...] = slots[i].param
        for view, i in zip(self.grad_views, members):
            g = grads[i]
            if type(g) is type(view) and g.dtype == view.dtype:
                view[...] = g
            else:  # NumPy's casting rules (a complex gradient for a real parameter raises)
                xp.copyto(view, g)
        update(self.slot, self.grad)
        for view, i in zip(self.param_views, members):
            slots[i].param[...] = view


def _key(slot) -> tuple:
    return (slot.xp.__name__, np.dtype(slot.param.dtype).str)


def _views(flat: Array, shapes: list, sizes: list) -> list:
    offsets = np.cumsum([0] + sizes)
    return [flat[a:b].reshape(shape) for a, b, shape in zip(offsets, offsets[1:], shapes)]


def make_packs(slots: list, slot_type: type) -> list:
    """The packs of ``slots`` (None for a static leaf): one per array module and dtype
    holding two or more leaves of at most :data:`PACK_LEAF_LIMIT` elements. Each member's
    ``state`` is replaced by views of its pack's flat state (same values)."""
    groups: dict = {}
    for i, slot in enumerate(slots):
        if slot is not None and slot.param.size <= PACK_LEAF_LIMIT:
            groups.setdefault(_key(slot), []).append(i)
    packs = []
    for members in groups.values():
        if len(members) < 2:
            continue
        first = slots[members[0]]
        xp, dtype = first.xp, first.param.dtype
        shapes = [slots[i].param.shape for i in members]
        sizes = [slots[i].param.size for i in members]
        total = sum(sizes)
        state = []
        for k in range(len(first.state)):
            flat = xp.concatenate([slots[i].state[k].reshape(-1) for i in members])
            state.append(flat)
            for i, view in zip(members, _views(flat, shapes, sizes)):
                slots[i].state = slots[i].state[:k] + (view,) + slots[i].state[k + 1 :]
        param, grad = xp.empty(total, dtype), xp.empty(total, dtype)
        scratch = (xp.empty(total, dtype), xp.empty(total, dtype))
        slot = slot_type(param, tuple(state), *scratch, xp)
        views = (_views(param, shapes, sizes), _views(grad, shapes, sizes))
        packs.append(Pack(members, slot, grad, *views))
    return packs
