"""One primitive's derivative rules registered for another function of the same mathematics
whose parameters differ only in names, order and defaults (a second public spelling of one
implementation, with no wrapper call in the derivative)."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import gast

from ..errors import SourcegradError
from ..rules.registry import ADJOINTS, TANGENTS, Rule, deferred_rule

__all__ = ["share_rules"]


def share_rules(fn, source, **renamed) -> None:
    """Register ``source``'s reverse and forward rules as ``fn``'s.

    ``renamed`` maps each parameter of ``fn`` whose name differs to ``source``'s parameter it
    stands for (``logits="input"``); ``fn``'s own signature (order, defaults) binds the calls.
    Guarantees that the registered rules compute exactly ``source``'s rules of the bound
    arguments, or raises :class:`SourcegradError` at registration if ``fn`` lacks one of
    ``source``'s parameters or has one ``source`` does not. The renamed rules are made when
    a build first reads them (parsing ``source``'s templates then, not at import)."""
    signature = inspect.signature(fn)
    to_fn = {old: new for new, old in renamed.items()}
    for table in (ADJOINTS, TANGENTS):
        rule = table[source]
        params = [to_fn.get(p, p) for p in rule.operand_names()]
        if set(params) != set(signature.parameters):
            raise SourcegradError(
                f"{fn.__qualname__}{signature} cannot share the rules of "
                f"{source.__qualname__}: its parameters would be {params}"
            )
        make = lambda rule=rule: _renamed(rule, fn, signature, to_fn)  # noqa: E731
        table[fn] = deferred_rule(fn, rule.fn, rule.where, make)


def _renamed(rule: Rule, fn, signature, to_fn: dict) -> Rule:
    body = copy.deepcopy(rule.body)
    for stmt in body:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and node.id in to_fn:
                node.id = to_fn[node.id]
    return dataclasses.replace(
        rule,
        key=fn,
        body=body,
        params=list(signature.parameters),
        signature=signature,
        differentiable=frozenset(to_fn.get(p, p) for p in rule.differentiable),
    )
