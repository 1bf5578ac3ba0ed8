"""The program fuzzer's family of memory shared between names (``tests/program_fuzz.py`` draws
these generators with its others; ``benchmarks/fuzz.py --family aliasing`` draws them alone).

Each generator writes a few statements where two names, a container and its item, or a helper's
argument and the caller's variable hold the same array, list or dict, combined with a write in
place (``w[i] = ...``, ``w += ...``, ``w *= ...``, ``np.copyto``, ``out=``, ``.append``, an item
write) or with a copy that breaks the link (``.copy()``, ``[:]`` of a list, ``list(...)``,
``{**d}``, ``np.array(a)``; ``[:]`` of an array and ``np.asarray(a)`` are views, not copies).
The names are linked through the forms the aliasing pass follows: ``a if c else b``, ``a or
b``, the walrus, chained and tuple assignment, ``d.get``/``setdefault``/``pop``,
``next(iter(...))``, ``max``/``min`` of a list, object fields, ``getattr``, ``vars``, loops over
a list, ``d.values()`` and ``d.items()``, helpers that write into what they are given, and
methods of objects kept in a list. ``f_alias_inputs`` writes into the program's own
arguments: the checks compare the arguments after sourcegrad's calls with those after Python's.

Like the other features, each reads ``h`` (an array of order-one values), may rebind ``h`` to
an array of its shape and adds to the float ``acc``; ``b`` is the program's ``Builder``.
"""

from __future__ import annotations

BOX_CLASS = """@dataclass
class Box:
    v: np.ndarray
    hs: list

    def push(self, u):
        self.hs.append(u)

    def scale(self, s):
        self.v *= s

    def total(self):
        return np.sum(self.v) + sum(np.sum(t) for t in self.hs)
"""

HELPERS = {
    "put": "def put(d, k, v):\n    d[k] = v\n",
    "bump": "def bump(d, k, s=0.5):\n    d[k] *= s\n",
    "push": "def push(hs, v):\n    hs.append(v)\n    return len(hs)\n",
    "halve": "def halve(a):\n    a *= 0.5\n",
    "halved": "def halved(a):\n    a *= 0.5\n    return a\n",
    "first": "def first(hs):\n    return hs[0]\n",
    "setrow": "def setrow(a, v):\n    a[0] = v\n    return a\n",
}


def _write(b, w: str) -> str:
    """A write in place into the array ``w`` (of ``h``'s shape or a view of it)."""
    return b.pick(
        [
            f"{w}[0] = np.sin({w}[0]) + 0.1",
            f"{w}[-1] *= 0.5",
            f"{w} += 0.1 * np.cos({w})",
            f"{w} *= 0.7",
            f"{w} -= 0.2 * np.mean(h)",
            f"np.copyto({w}, np.tanh({w}))",
            f"np.multiply({w}, 0.5, out={w})",
            f"np.tanh({w}, out={w})",
            f"{w}[...] = 0.5 * {w} + 0.1",
            f"{w}[1:] = {w}[:-1] * 0.5",
        ]
    )


def _fresh(b, name: str) -> str:
    return f"{name} = " + b.pick(["np.tanh(h)", "h.copy()", "h * 1.0", "np.sin(h) + 0.5 * h"])


def f_alias_names(b, nd: int) -> None:
    """Two names for one array (or a copy), a write through one, reads through both."""
    t = b.thr(-0.5, 0.5)
    z = _fresh(b, "z")
    shared = [
        "w = z",
        f"w = z if np.sum(h) > {t} else z[::-1]",
        f"w = z if np.mean(h) > {t} else np.tanh(h)",
        "w = u = z",
        "w, u = z, h * 0.5",
        "u, w = h * 0.5, z",
        "w = z[:]",
        "w = z[::-1]",
        "w = z.reshape(z.shape)",
        "w = np.asarray(z)",
        "w = next(iter([z, h]))",
        "w = max([z, 0.5 * z], key=lambda v: float(np.sum(v * v)))",
        "w = min([z, z + 1.0], key=lambda v: float(np.sum(v)))",
        "w = [z, h][0]",
        'w = {"k": z}.get("k")',
        "w = (z, 0.5 * h)[0]",
        "acc = acc + 0.1 * np.sum((w := z))",
        "w = None or z",
        "w = [] or [z]\nw = w[0]",
    ]
    copies = ["w = z.copy()", "w = np.array(z)", "w = np.copy(z)", "w = z * 1.0", "w = z + 0.0"]
    link = b.pick(shared) if b.p(0.5) else b.pick(copies)
    lines = [z, link, _write(b, b.pick(["w", "w", "z"]))]
    if b.p(0.3):
        lines.append(_write(b, "w"))
    lines.append(
        b.pick(
            [
                "acc = acc + np.sum(z * h) + 0.5 * np.sum(w)",
                "h = 0.5 * (z + w)",
                "acc = acc + np.sum(w * w)\nh = np.tanh(z)",
                "acc = acc + np.mean(z) - np.mean(w) + np.sum(z[0] * w[-1])",
            ]
        )
    )
    b.emit("\n".join(lines))


def f_alias_list(b, nd: int) -> None:
    """A list and a second name for it, or a copy (``[:]``, ``list``, ``.copy()``, ``[*xs]``),
    changed through one of them: items replaced, appended, popped, or written in place."""
    lines = [_fresh(b, "z"), "hs = [z, 0.5 * h]"]
    other = b.pick(["ls = hs", "ls = hs[:]", "ls = list(hs)", "ls = hs.copy()", "ls = [*hs]"])
    other = b.pick([other, other, "ls = hs or [h]", "ls = ms = hs", "ls = [v.copy() for v in hs]"])
    lines.append(other)
    ops = [
        "ls.append(np.sin(h))",
        "ls[0] = ls[0] * 0.5",
        "ls[0] += 0.1",
        "ls[0] *= 0.5",
        "ls[1][0] = 0.3",
        "last = ls.pop()\nacc = acc + np.sum(last)",
        "for v in ls:\n    v *= 0.9",
        "for i in range(len(ls)):\n    ls[i] = ls[i] + 0.1 * i",
        "q = next(iter(ls))\nq += 0.1",
        "big = max(ls, key=lambda v: float(np.sum(v)))\nbig *= 0.5",
        "ls.insert(0, np.cos(h))",
        "ls.extend([h * h])",
        "ls += [np.tanh(h)]",
        "ls.reverse()",
    ]
    for _ in range(b.r.randint(1, 2)):
        lines.append(b.pick(ops))
    lines.append(
        b.pick(
            [
                "acc = acc + 0.1 * sum(np.sum(v) for v in hs) + 0.1 * len(ls)",
                "acc = acc + np.sum(z * h) + 0.1 * np.sum(hs[0]) + 0.2 * np.sum(ls[-1])",
                "h = np.mean(np.stack(hs), axis=0)\nacc = acc + 0.1 * np.sum(z)",
                "for v in ls:\n    acc = acc + 0.1 * np.mean(v * z)",
            ]
        )
    )
    b.emit("\n".join(lines))


def f_alias_dict(b, nd: int) -> None:
    """A dict and a second name for it or a shallow copy (whose array items are still shared),
    changed by item writes, writes in place into an item, ``get``/``setdefault``/``pop``,
    ``update`` and loops over ``values()``/``items()``."""
    lines = [_fresh(b, "z"), 'd = {"a": z, "b": 0.5 * h}']
    lines.append(
        b.pick(
            ["e = d", "e = dict(d)", "e = {**d}", "e = d.copy()", "e = d | {}"]
            + [
                "e = {k: v.copy() for k, v in d.items()}",
                "e = {k: np.array(v) for k, v in d.items()}",
            ]
        )
    )
    ops = [
        'e["a"] = e["a"] * 0.5',
        'e["a"] += 0.1',
        'e["a"] *= 0.5',
        'e["b"][0] = 0.3',
        'e["c"] = z',
        'v = e.get("a")\nv *= 0.9',
        'v = e.get("c", z)\nv += 0.1',
        'v = e.setdefault("a", h)\nv += 0.1',
        'v = e.setdefault("c", z)\nv *= 0.5',
        'v = e.pop("a")\nv[0] = 0.3',
        "for v in e.values():\n    v *= 0.9",
        "for k, v in e.items():\n    v += 0.1 * np.mean(h)",
        "for k, v in e.items():\n    e[k] = v * 0.5",
        "e.update(b=np.sin(h))",
        'w = e["a"]\n' + _write(b, "w"),
    ]
    for _ in range(b.r.randint(1, 2)):
        lines.append(b.pick(ops))
    lines.append(
        b.pick(
            [
                'acc = acc + np.sum(d["a"] * z) + 0.1 * len(e)',
                "acc = acc + 0.1 * sum(np.sum(v) for v in d.values()) + np.mean(z)",
                'h = 0.5 * (d["b"] + z)\nacc = acc + 0.1 * sum(np.sum(v) for v in e.values())',
                "for k in e:\n    acc = acc + 0.1 * np.mean(e[k] * h)",
            ]
        )
    )
    b.emit("\n".join(lines))


def f_alias_helper(b, nd: int) -> None:
    """A local dict, list or array handed to a helper of the module that writes into it."""
    kind = b.pick(["put", "bump", "push", "halve", "halved", "first", "setrow"])
    b.helpers[kind] = HELPERS[kind]
    z = _fresh(b, "z")
    if kind == "put":
        text = f'{z}\nd = {{"a": z}}\nput(d, "b", np.sin(h))\nput(d, "a", 0.5 * d["a"])'
        read = 'acc = acc + np.sum(d["a"] * d["b"]) + 0.1 * np.sum(z)'
    elif kind == "bump":
        text = f'{z}\nd = {{"a": z, "b": h * 0.5}}\nbump(d, "a")\nbump(d, "b", s=0.9)'
        read = 'acc = acc + np.sum(d["a"] * d["b"]) + 0.1 * np.sum(z)'
    elif kind == "push":
        text = f"{z}\nhs = [z]\nn = push(hs, np.sin(h))\nn = push(hs, hs[0] * 0.5)"
        read = "acc = acc + 0.1 * n + sum(np.sum(v * v) for v in hs)"
    elif kind in ("halve", "halved"):
        target = b.pick(["z", "z[1:]", "z[0]" if nd == 2 else "z[:1]"])
        call = f"halve({target})" if kind == "halve" else f"w = halved({target})"
        text = f"{z}\n{call}"
        read = "acc = acc + np.sum(z * h)" + (" + np.sum(w)" if kind == "halved" else "")
    elif kind == "first":
        text = f"{z}\nhs = [z, np.sin(h)]\nw = first(hs)\n{_write(b, 'w')}"
        read = "acc = acc + np.sum(hs[0] * h) + np.sum(w)"
    else:
        text = f"{z}\nw = setrow(z, np.sin(h[-1]))"
        read = "acc = acc + np.sum(z * w) + np.sum(w[0])"
    b.emit(text + "\n" + read)


def f_alias_objects(b, nd: int) -> None:
    """Module dataclass instances made in the function and kept in a list: their fields read
    by attribute, ``getattr`` and ``vars``, changed by their methods and by writes in place."""
    b.preamble.append("from dataclasses import dataclass")
    b.helpers["class Box"] = BOX_CLASS
    lines = [_fresh(b, "z"), "boxes = [Box(z, []), Box(0.5 * h, [h * h])]"]
    ops = [
        "for bx in boxes:\n    bx.push(np.sin(bx.v))",
        "boxes[0].push(h)",
        "boxes[1].scale(0.5)",
        "for bx in boxes:\n    bx.scale(0.9)",
        "w = boxes[0].v\n" + _write(b, "w"),
        'w = getattr(boxes[0], "v")\nw *= 0.5',
        'w = vars(boxes[1])["v"]\nw += 0.1',
        "hs = boxes[0].hs\nhs.append(np.tanh(h))",
        "first = boxes[0]\nfirst.hs.append(z * 0.5)",
    ]
    for _ in range(b.r.randint(1, 2)):
        lines.append(b.pick(ops))
    lines.append(
        b.pick(
            [
                "acc = acc + 0.1 * sum(bx.total() for bx in boxes)",
                "acc = acc + np.sum(boxes[0].v * z) + 0.1 * len(boxes[0].hs)",
                "h = 0.5 * (boxes[0].v + boxes[1].v)",
            ]
        )
    )
    b.emit("\n".join(lines))


def f_alias_loops(b, nd: int) -> None:
    """Loops over a list of lists, a list of arrays and a dict's values and items, changing
    the items they bind: by methods, by writes in place, by item writes."""
    t = b.thr(-0.5, 0.5)
    options = [
        "rows = [[np.tanh(h)], [0.5 * h]]\nfor r in rows:\n    r.append(np.sin(r[0]))\n"
        "acc = acc + sum(np.sum(r[-1]) for r in rows) + 0.1 * len(rows[0])",
        "hs = [np.tanh(h), 0.5 * h]\nfor v in hs:\n    v += 0.1\nacc = acc + sum(np.sum(v) for v in hs)",
        "hs = [np.tanh(h), 0.5 * h]\nfor i, v in enumerate(hs):\n    hs[i] = v * (i + 1)\n"
        "h = 0.5 * (hs[0] + hs[1])",
        'd = {"a": np.tanh(h), "b": 0.5 * h}\nfor k, v in d.items():\n    d[k] = np.sin(v)\n'
        'acc = acc + np.sum(d["a"] * d["b"])',
        'd = {"a": np.tanh(h), "b": 0.5 * h}\nfor v in d.values():\n    v[0] = 0.2\n'
        'acc = acc + np.sum(d["a"] + d["b"])',
        'd = {"a": np.tanh(h), "b": [0.5 * h]}\nfor k in d:\n    if k == "b":\n'
        '        d[k].append(h)\nacc = acc + np.sum(d["a"]) + sum(np.sum(v) for v in d["b"])',
        f"z = np.tanh(h)\nkeep = []\nfor i in range(2):\n    if np.sum(z) > {t}:\n"
        "        keep.append(z)\n    z = z * 0.5\nacc = acc + sum(np.sum(v) for v in keep)",
        "z = np.tanh(h)\nkeep = []\nfor i in range(2):\n    keep.append(z)\n    z *= 0.5\n"
        "acc = acc + sum(np.sum(v) for v in keep)",
        "rows = [[np.tanh(h)], [0.5 * h]]\nfor r in rows:\n    r[0] = r[0] * 0.5\n"
        "    r[0] += 0.1\nacc = acc + np.sum(rows[0][0] * rows[1][0])",
    ]
    b.emit(b.pick(options))


def f_alias_inputs(b, nd: int) -> None:
    """Writes into the function's own arguments, directly or through a second name or a
    shallow copy of a parameter container: Python leaves them changed."""
    options = [
        "xs = x\nxs *= 0.9",
        "y2 = y\ny2[0] = 0.5 * y2[0]",
        "y[-1] += 0.1",
        "np.copyto(y, 0.9 * y)",
    ]
    if b.dict_param is not None:
        base, wk, bk = b.dict_param
        options += [
            f'q = dict({base})\nq["{bk}"] *= 0.9',
            f'w = {base}["{wk}"]\nw[0] = 0.5 * w[0]',
            f'q = {{**{base}}}\nq["{bk}"] = q["{bk}"] * 0.9',
            f'{base}["{bk}"] = {base}["{bk}"] * 0.9',
        ]
    b.emit(b.pick(options))
    b.emit(b.pick(["acc = acc + 0.1 * np.sum(y)", f"acc = acc + 0.1 * np.sum({b.last_b})"]))


FEATURES = {
    "alias_names": f_alias_names,
    "alias_list": f_alias_list,
    "alias_dict": f_alias_dict,
    "alias_helper": f_alias_helper,
    "alias_objects": f_alias_objects,
    "alias_loops": f_alias_loops,
    "alias_inputs": f_alias_inputs,
}
