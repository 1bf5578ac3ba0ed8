"""The program fuzzer's family of code written with objects (``benchmarks/fuzz.py --family
objects``; ``tests/program_fuzz.py`` draws it only there).

The parameters are held or used the way object-oriented model code holds them: a dataclass
model holding a list or dict of dataclass layers, a list of NamedTuple layers with methods or
a list of plain-class layers (the differentiated argument is the object), or a list of ``(W,
b)`` tuples or a dict from which the function builds plain-class layers (``__init__`` holding
the weights, ``__call__`` and ``forward``, a model keeping them in a list or dict, a subclass
calling ``super()``). The
features then draw: a layer called twice, methods calling methods, ``@property``,
``@staticmethod``, class attributes read as constants, bound methods as values (``act =
self.smooth``), closures over ``self``, ``self.cache = z`` stores read back in the same call,
objects handed to helpers, records with methods, an instance counter (``self.calls += 1``,
refused), and a non-differentiated object argument (``cfg``, a keyword-only argument holding
settings, an array and a method).

The classes and helpers it writes into the programs are in
``tests/program_fuzz_object_classes.py``. Like the other features, each reads ``h`` (an array of order-one values whose last axis has
the size of ``b.last_b``, the last layer's bias, a differentiated value), may rebind ``h`` to an
array of its shape and adds to the float ``acc``; ``b`` is the program's ``Builder``.
"""

from __future__ import annotations

from tests.program_fuzz import DC, NT, Setting
from tests.program_fuzz_object_classes import (
    AFFINE_CLASS,
    BASE_CLASSES,
    BLOCKS_CLASS,
    CACHE_CLASS,
    CONFIG_CLASS,
    COUNTER_CLASS,
    DICT_MODEL_CLASS,
    GATE_CLASS,
    HELPERS,
    LIN_CLASS,
    LINEAR_CLASS,
    LINT_CLASS,
    MLP_CLASS,
    NET_CLASS,
    NORM_CLASS,
    STACK_CLASS,
    TANH_LINEAR_CLASS,
    UNIT_CLASS,
)


def _lin(b, W, c) -> DC:
    return DC("Lin", {"W": W, "b": c, "name": Setting(repr(b.pick(["a", "b"])))})


def _net_model(b, dims: list[int], Ws: list, bs: list):
    """A dataclass ``Net`` holding dataclass ``Lin`` layers (methods calling methods, a
    staticmethod, a property): the differentiated argument is the model object."""
    b.preamble.append("from dataclasses import dataclass")
    b.helpers["class Lin"] = LIN_CLASS.format(act=b.act("z"))
    b.helpers["class Net"] = NET_CLASS
    layers = [_lin(b, W, c) for W, c in zip(Ws, bs)]
    params = DC("Net", {"layers": layers, "out": b.nudged(dims[-1]), "scale": 0.9})
    pattern = b.pick(["call", "loop_forward", "bound", "helper", "inline"])
    if pattern == "call":
        b.emit("h = params(x)")
    elif pattern == "loop_forward":
        b.emit("h = x\nfor layer in params.layers:\n    h = layer.forward(h)\nh = params.head(h)")
    elif pattern == "bound":
        b.emit("run = params.layers[0].forward\nh = run(x)")
        for i in range(1, len(Ws)):
            b.emit(f"h = params.layers[{i}](h)")
    elif pattern == "helper":
        b.helpers["run_net"] = "def run_net(net, x):\n    return net(x)\n"
        b.emit("h = run_net(params, x)")
    else:
        b.emit("h = Lin.act(params.layers[0].pre(x))")
        for i in range(1, len(Ws)):
            b.emit(f"h = params.layers[{i}].act(h @ params.layers[{i}].W + params.layers[{i}].b)")
    b.knob(f"net:objects_model:{pattern}")
    reg = ["reg = params.penalty()", "reg = sum(layer.norm for layer in params.layers)"]
    b.splices = ["acc = acc + 0.01 * norm2(*[params.layers[0].W, params.layers[0].b])"]
    return params, reg, "params.layers[0].W", "params.layers[-1].b"


def _net_blocks(b, dims: list[int], Ws: list, bs: list):
    """A dataclass ``Blocks`` holding its layers in a dict, run in the order of a tuple."""
    b.preamble.append("from dataclasses import dataclass")
    b.helpers["class Lin"] = LIN_CLASS.format(act=b.act("z"))
    b.helpers["class Blocks"] = BLOCKS_CLASS
    keys = [f"k{i}" for i in range(len(Ws))]
    blocks = {k: _lin(b, W, c) for k, W, c in zip(keys, Ws, bs)}
    params = DC("Blocks", {"blocks": blocks, "order": Setting(repr(",".join(keys)))})
    pattern = b.pick(["forward", "values", "items"])
    if pattern == "forward":
        b.emit("h = params.forward(x)")
    elif pattern == "values":
        b.emit("h = x\nfor blk in params.blocks.values():\n    h = blk(h)")
    else:
        b.emit("h = x\nfor key, blk in params.blocks.items():\n    h = blk.forward(h)")
    b.knob(f"net:objects_blocks:{pattern}")
    reg = ["reg = sum(blk.norm for blk in params.blocks.values())"]
    first = f"params.blocks[{keys[0]!r}]"
    b.splices = [f"acc = acc + 0.01 * norm2(*[{first}.W, {first}.b])"]
    return params, reg, f"params.blocks[{keys[0]!r}].W", f"params.blocks[{keys[-1]!r}].b"


def _net_namedtuples(b, dims: list[int], Ws: list, bs: list):
    """A list of NamedTuple layers with ``__call__`` and a method."""
    b.preamble.append("from typing import NamedTuple")
    b.helpers["class LinT"] = LINT_CLASS.format(act=b.act("h @ self.W + self.b"))
    params = [NT("LinT", {"W": W, "b": c}) for W, c in zip(Ws, bs)]
    pattern = b.pick(["loop", "inline", "map"])
    if pattern == "loop":
        b.emit("h = x\nfor layer in params:\n    h = layer(h)")
    elif pattern == "inline":
        b.emit("h = params[0](x)")
        for i in range(1, len(Ws)):
            b.emit(f"h = params[{i}](h)")
    else:
        b.emit("h = x\nfor call in [layer.__call__ for layer in params]:\n    h = call(h)")
    b.knob(f"net:objects_namedtuple:{pattern}")
    reg = ["reg = sum(layer.energy() for layer in params)"]
    b.splices = [
        "acc = acc + 0.01 * norm2(*params[0])",
        "acc = acc + 0.01 * norm2(**params[-1]._asdict())",
    ]
    return params, reg, "params[0].W", "params[-1].b"


def _net_built(b, dims: list[int], Ws: list, bs: list):
    """A list of ``(W, b)`` tuples or a dict ``W0, b0, ...`` from which the function builds
    plain-class layers (a subclass calling ``super().__init__``) held by a model object."""
    b.helpers["class Linear"] = LINEAR_CLASS
    b.helpers["class TanhLinear"] = TANH_LINEAR_CLASS.format(act=b.act("super().__call__(h)"))
    n = len(Ws)
    if b.p(0.5):
        params = [(W, c) for W, c in zip(Ws, bs)]
        b.helpers["class MLP"] = MLP_CLASS
        pattern = b.pick(["call", "forward", "layers"])
        b.emit("model = MLP(params)")
        if pattern == "layers":
            b.emit("h = x\nfor layer in model.layers:\n    h = layer(h)")
        else:
            b.emit(f"h = model{'.forward' if pattern == 'forward' else ''}(x)")
        b.knob(f"net:objects_built:mlp_{pattern}")
        reg = ["reg = sum(np.sum(layer.W**2) for layer in model.layers)"]
        b.splices = [
            "acc = acc + 0.01 * norm2(*params[0])",
            "acc = acc + 0.01 * norm2(*[model.layers[0].W, model.layers[0].b])",
        ]
        return params, reg, "params[0][0]", "params[-1][1]"
    params = {}
    for i, (W, c) in enumerate(zip(Ws, bs)):
        params[f"W{i}"], params[f"b{i}"] = W, c
    b.helpers["class DictModel"] = DICT_MODEL_CLASS
    b.emit(f"model = DictModel(params, {n})\nh = model.forward(x)")
    b.knob("net:objects_built:dict")
    reg = ["reg = sum(np.sum(blk.W * blk.W) for blk in model.blocks.values())"]
    b.splices = ['acc = acc + 0.01 * norm2(*[params["W0"], params["b0"]])']
    return params, reg, 'params["W0"]', f'params["b{n - 1}"]'


def _net_plain_args(b, dims: list[int], Ws: list, bs: list):
    """A list of plain-class layer objects (a subclass calling ``super().__init__``) as the
    differentiated argument: the gradient is a list of objects of the same class."""
    b.helpers["class Linear"] = LINEAR_CLASS
    b.helpers["class TanhLinear"] = TANH_LINEAR_CLASS.format(act=b.act("super().__call__(h)"))
    params = [
        DC("TanhLinear", {"W": W, "b": c, "gain": float(round(b.r.uniform(0.7, 1.3), 2))})
        for W, c in zip(Ws, bs)
    ]
    pattern = b.pick(["loop", "inline", "bound"])
    if pattern == "loop":
        b.emit("h = x\nfor layer in params:\n    h = layer(h)")
    elif pattern == "inline":
        b.emit("h = params[0](x)")
        for i in range(1, len(Ws)):
            b.emit(f"h = params[{i}](h)")
    else:
        b.emit("h = x\nfor call in [layer.__call__ for layer in params]:\n    h = call(h)")
    b.knob(f"net:objects_plain:{pattern}")
    reg = ["reg = sum(np.sum(layer.W**2) + layer.gain**2 for layer in params)"]
    b.splices = ["acc = acc + 0.01 * norm2(*[params[0].W, params[0].b])"]
    return params, reg, "params[0].W", "params[-1].b"


NETWORKS = {
    "objects_plain": _net_plain_args,
    "objects_model": _net_model,
    "objects_blocks": _net_blocks,
    "objects_namedtuple": _net_namedtuples,
    "objects_built": _net_built,
}


# ----------------------------------------------------------------------------------- features


def _weight(b) -> str:
    """The source of a differentiated vector for a layer object made in the function."""
    lb = b.last_b
    return b.pick([lb, f"np.sin({lb})", f"0.5 * {lb} + 0.2", f"np.cos({lb})"])


def f_obj_twice(b, nd: int) -> None:
    """A layer object built from differentiated values, called twice or in a loop."""
    b.helpers["class Gate"] = GATE_CLASS
    make = b.pick([f"g = Gate({_weight(b)})", f"g = Gate({_weight(b)}, s=0.7)"])
    use = b.pick(
        [
            "h = g(g(h))",
            "h = g(h)\nacc = acc + np.sum(g(h) * h)",
            "for _ in range(2):\n    h = g(h)",
            "a = g(h)\nb2 = g(0.5 * h)\nh = 0.5 * (a + b2)",
        ]
    )
    b.emit(f"{make}\n{use}")


def f_obj_methods(b, nd: int) -> None:
    """Methods calling methods, a property, a staticmethod, class attributes, a bound method
    as a value (in the method and in the function), a closure over ``self``."""
    b.helpers["class Unit"] = UNIT_CLASS
    lines = [f"u = Unit({_weight(b)})"]
    ops = [
        "h = u.forward(h)",
        "h = u.twice(h)",
        "h = u.nested(h)",
        "acc = acc + np.sum(u.s * h)",
        "h = Unit.squash(h) + 0.1 * u.pre(h)",
        "fn = u.forward\nh = fn(h)",
        "acc = acc + Unit.SCALE * np.sum(h) + u.OFFSETS[1]",
        "acts = [u.forward, u.twice]\nfor a in acts:\n    h = 0.5 * a(h)",
    ]
    for _ in range(b.r.randint(1, 3)):
        lines.append(b.pick(ops))
    b.emit("\n".join(lines))


def f_obj_cache(b, nd: int) -> None:
    """``self.z = z`` stores read back in the same method, by another method of the same call,
    or (refused) by the function after the call."""
    b.helpers["class Cache"] = CACHE_CLASS
    lines = [f"c = Cache({_weight(b)})"]
    lines.append(
        b.pick(
            [
                "h = c.forward(h)",
                "h = c.forward(c.forward(h))",
                "h = c.run(h)",
                "h = c.forward(h)\nacc = acc + np.sum(c.out)",
                "for _ in range(2):\n    h = 0.7 * c.forward(h)",
            ]
        )
    )
    b.emit("\n".join(lines))


def f_obj_counter(b, nd: int) -> None:
    """An instance counter bumped by ``__call__`` (refused where it cannot run as written)."""
    b.helpers["class Counted"] = COUNTER_CLASS
    use = b.pick(
        [
            "h = k(h)",
            "h = k(k(h))",
            "h = k(h)\nacc = acc + 0.01 * k.calls",
        ]
    )
    b.emit(f"k = Counted({_weight(b)})\n{use}")


def f_obj_inherit(b, nd: int) -> None:
    """A subclass calling ``super().__init__`` and ``super().forward``; a base-class object."""
    b.helpers["class Base"] = BASE_CLASSES
    w = _weight(b)
    lines = [b.pick([f"m = Child({w}, 0.1 * {w})", f"m = Child(0.5, {w})"])]
    lines.append(
        b.pick(
            [
                "h = m.forward(h)\nacc = acc + m.extra()",
                "h = m.forward(m.forward(h))",
                f"objs = [Base({w}), m]\nfor o in objs:\n    h = o.forward(h)",
                "h = Base.forward(m, h) + 0.1 * m.forward(h)",
            ]
        )
    )
    b.emit("\n".join(lines))


def f_obj_stack(b, nd: int) -> None:
    """A model object holding layer objects in a list and a dict (the same object in both)."""
    b.helpers["class Gate"] = GATE_CLASS
    b.helpers["class Stack"] = STACK_CLASS
    w = _weight(b)
    lines = [b.pick([f"st = Stack([{w}, np.cos({w})])", f"st = Stack([{w}])"])]
    lines.append(
        b.pick(
            [
                "h = st(h)",
                'h = st.named["first"](h)\nh = st(h)',
                "for layer in st.layers:\n    h = layer(h)",
                'acc = acc + np.sum(st.named["last"](h))',
            ]
        )
    )
    b.emit("\n".join(lines))


def f_obj_helper(b, nd: int) -> None:
    """Objects handed to helper functions and captured by a nested function of ``f``."""
    kind = b.pick(["apply", "energy", "closure"])
    w = _weight(b)
    if kind == "apply":
        b.helpers["class Gate"] = GATE_CLASS
        b.helpers["apply"] = HELPERS["apply"]
        b.emit(f"g = Gate({w})\nh = apply(g, h, n={b.pick([1, 2])})")
    elif kind == "energy":
        b.helpers["class Unit"] = UNIT_CLASS
        b.helpers["energy"] = HELPERS["energy"]
        b.emit(f"u = Unit({w})\nacc = acc + energy(u, h)")
    else:
        b.helpers["class Gate"] = GATE_CLASS
        b.emit(f"g = Gate({w})\n\ndef step(z):\n    return g(z) * 0.9\n\nh = step(step(h))")


def f_obj_record(b, nd: int) -> None:
    """NamedTuple and dataclass records with methods, built from differentiated values."""
    if b.p(0.5):
        b.preamble.append("from typing import NamedTuple")
        b.helpers["class Affine"] = AFFINE_CLASS
        w = _weight(b)
        b.emit(
            f"aff = Affine({w}, 0.1 * {w})\n"
            + b.pick(["h = aff(h)", "h = aff(aff(h))\nacc = acc + aff.size()", "h = aff.a * h"])
        )
    else:
        b.preamble.append("from dataclasses import dataclass")
        b.helpers["class Norm"] = NORM_CLASS
        w = _weight(b)
        b.emit(b.pick([f"nrm = Norm({w})", f"nrm = Norm(g={w}, eps=0.7)"]) + "\nh = nrm.forward(h)")


def f_obj_config(b, nd: int) -> None:
    """A non-differentiated object argument ``cfg`` (settings, an array, a method)."""
    b.preamble += ["from dataclasses import dataclass", "from typing import Callable"]
    b.helpers["class Config"] = CONFIG_CLASS
    b.object_kwargs["cfg"] = DC(
        "Config",
        {
            "shift": b.nudged(b.width) * 0.3,
            "scale": float(round(b.r.uniform(0.5, 1.2), 2)),
            "act": Setting(b.pick(["np.tanh", "np.sin"])),
            "steps": Setting(str(b.pick([1, 2]))),
        },
    )
    b.emit(
        b.pick(
            [
                "h = cfg.apply(h)",
                "h = cfg.act(h) * cfg.scale + cfg.shift",
                "for _ in range(cfg.steps):\n    h = cfg.apply(h)",
                "acc = acc + np.sum(cfg.apply(h) * cfg.shift)",
            ]
        )
    )


FEATURES = {
    "obj_twice": f_obj_twice,
    "obj_methods": f_obj_methods,
    "obj_cache": f_obj_cache,
    "obj_counter": f_obj_counter,
    "obj_inherit": f_obj_inherit,
    "obj_stack": f_obj_stack,
    "obj_helper": f_obj_helper,
    "obj_record": f_obj_record,
    "obj_config": f_obj_config,
}


def feature_names(b, others: list[str]) -> list[str]:
    """One to three of the family's features (the refused counter in fewer programs, so that
    it hides less), sometimes with one of ``others``."""
    names = b.r.sample(sorted(FEATURES), b.r.randint(1, 3))
    if "obj_counter" in names and len(names) > 1 and b.p(0.6):
        names.remove("obj_counter")
    if b.p(0.2):
        names.insert(b.r.randint(0, len(names)), b.pick(others))
    return names
