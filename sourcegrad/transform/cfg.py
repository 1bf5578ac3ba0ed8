"""Control-flow graph of a core function, and a data-flow solver over it.

Nodes are statements: simple statements, and the headers of ``if``/``for``/``while`` (whose
bodies are nodes of their own). ``"entry"`` and ``"exit"`` bracket the function. Facts are
sets of names; the solvers iterate to a fixed point, so loops are handled.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import gast


@dataclass
class CFG:
    stmts: dict = field(default_factory=dict)  # node id -> statement
    succ: dict = field(default_factory=lambda: defaultdict(list))
    pred: dict = field(default_factory=lambda: defaultdict(list))

    def edge(self, a, b):
        self.succ[a].append(b)
        self.pred[b].append(a)


def build_cfg(body) -> CFG:
    """The control-flow graph of a statement list."""
    cfg = CFG()
    lasts = _build(cfg, body, ["entry"])
    for last in lasts:
        cfg.edge(last, "exit")
    return cfg


def _build(cfg: CFG, body, preds):
    for stmt in body:
        nid = id(stmt)
        cfg.stmts[nid] = stmt
        for p in preds:
            cfg.edge(p, nid)
        if isinstance(stmt, gast.If):
            preds = _build(cfg, stmt.body, [nid]) + _build(cfg, stmt.orelse, [nid])
        elif isinstance(stmt, (gast.For, gast.While)):
            ends = _build(cfg, stmt.body, [nid])
            for e in ends:
                cfg.edge(e, nid)
            preds = [nid] + _build(cfg, stmt.orelse, [nid])
        elif isinstance(stmt, gast.Return):
            cfg.edge(nid, "exit")
            preds = []
        else:
            preds = [nid]
    return preds


def solve_forward(cfg: CFG, init: set, transfer) -> dict:
    """Forward may-analysis. Returns ``{id: facts after}`` and ``{("in", id): facts before}``."""
    out = {"entry": set(init)}
    work = list(cfg.stmts)
    result = {}
    while work:
        nid = work.pop(0)
        facts_in = (
            set().union(*[out.get(p, set()) for p in cfg.pred[nid]]) if cfg.pred[nid] else set()
        )
        new = transfer(cfg.stmts[nid], facts_in)
        result[("in", nid)] = facts_in
        if out.get(nid) != new:
            out[nid] = new
            work.extend(s for s in cfg.succ[nid] if s in cfg.stmts and s not in work)
    result.update({k: v for k, v in out.items() if k != "entry"})
    return result


def solve_backward(cfg: CFG, init: set, transfer) -> dict:
    """Backward may-analysis. Returns ``{id: facts after the statement}`` and ``"entry"``."""
    before = {"exit": set(init)}
    after = {}
    work = list(reversed(list(cfg.stmts)))
    while work:
        nid = work.pop(0)
        facts_out = set().union(*[before.get(s, set()) for s in cfg.succ[nid]])
        after[nid] = facts_out
        new = transfer(cfg.stmts[nid], facts_out)
        if before.get(nid) != new:
            before[nid] = new
            work.extend(p for p in cfg.pred[nid] if p in cfg.stmts and p not in work)
    after["entry"] = set().union(*[before.get(s, set()) for s in cfg.succ["entry"]])
    return after
