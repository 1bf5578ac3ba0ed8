"""The classes and helpers the objects family of the program fuzzer
(``tests/program_fuzz_objects.py``) writes into its programs, as source: layers with
``__init__``-held weights and ``__call__``/``forward``, models holding them in lists and dicts,
methods calling methods, properties, staticmethods, class attributes, bound methods as values,
closures over ``self``, caches, counters, a subclass calling ``super()``, records with methods
and a settings object. ``{act}`` in a template is the program's activation."""

from __future__ import annotations

LIN_CLASS = """@dataclass
class Lin:
    W: np.ndarray
    b: np.ndarray
    name: str = "lin"

    def pre(self, h):
        return h @ self.W + self.b

    @staticmethod
    def act(z):
        return {act}

    @property
    def norm(self):
        return np.sum(self.W**2)

    def forward(self, h):
        return self.act(self.pre(h))

    def __call__(self, h):
        return self.forward(h)
"""


NET_CLASS = """@dataclass
class Net:
    layers: list
    out: np.ndarray
    scale: float = 1.0

    def __call__(self, x):
        h = x
        for layer in self.layers:
            h = layer(h)
        return self.head(h)

    def head(self, h):
        return self.scale * h + 0.5 * self.out

    def penalty(self):
        return sum(layer.norm for layer in self.layers)
"""


BLOCKS_CLASS = """@dataclass
class Blocks:
    blocks: dict
    order: str

    def forward(self, x):
        h = x
        for key in self.order.split(","):
            h = self.blocks[key].forward(h)
        return h
"""


LINT_CLASS = """class LinT(NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def __call__(self, h):
        return {act}

    def energy(self):
        return np.sum(self.W * self.W) + np.sum(self.b**2)
"""


LINEAR_CLASS = """class Linear:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, h):
        return h @ self.W + self.b
"""


TANH_LINEAR_CLASS = """class TanhLinear(Linear):
    def __init__(self, W, b, gain=1.0):
        super().__init__(W, b)
        self.gain = gain

    def __call__(self, h):
        return self.gain * {act}
"""


MLP_CLASS = """class MLP:
    def __init__(self, layers):
        self.layers = [TanhLinear(W, b) for W, b in layers]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __call__(self, x):
        return self.forward(x)
"""


DICT_MODEL_CLASS = """class DictModel:
    def __init__(self, params, n):
        self.blocks = {}
        for i in range(n):
            self.blocks[f"l{i}"] = TanhLinear(params[f"W{i}"], params[f"b{i}"])
        self.n = n

    def forward(self, x):
        h = x
        for i in range(self.n):
            h = self.blocks[f"l{i}"](h)
        return h
"""


GATE_CLASS = """class Gate:
    def __init__(self, w, s=0.5):
        self.w = w
        self.s = s

    def __call__(self, z):
        return self.s * np.tanh(z * self.w) + 0.5 * z
"""


UNIT_CLASS = """class Unit:
    SCALE = 0.5
    OFFSETS = (0.1, -0.2)

    def __init__(self, w):
        self.w = w
        self.log_s = 0.1 * w

    @property
    def s(self):
        return np.exp(self.log_s)

    @staticmethod
    def squash(z):
        return np.tanh(z)

    def pre(self, z):
        return z * self.w + self.SCALE * self.OFFSETS[0]

    def forward(self, z):
        return self.squash(self.pre(z)) * self.s

    def smooth(self, z):
        return np.log1p(np.exp(z))

    def twice(self, z):
        act = self.smooth
        return act(act(z) - 1.0)

    def nested(self, z):
        def inner(v):
            return np.sin(v * self.w)

        return inner(z) + inner(0.5 * z)
"""


CACHE_CLASS = """class Cache:
    def __init__(self, w):
        self.w = w

    def forward(self, z):
        self.z = z
        self.out = np.tanh(z * self.w)
        return self.out + 0.1 * self.z

    def run(self, z):
        self.forward(z)
        return self.out * 2.0
"""


COUNTER_CLASS = """class Counted:
    def __init__(self, w):
        self.w = w
        self.calls = 0

    def __call__(self, z):
        self.calls += 1
        return np.sin(z * self.w)
"""


BASE_CLASSES = """class Base:
    def __init__(self, w):
        self.w = w

    def forward(self, z):
        return z * self.w

    def extra(self):
        return 0.0


class Child(Base):
    def __init__(self, w, c):
        super().__init__(w)
        self.c = c

    def forward(self, z):
        return np.tanh(super().forward(z) + self.c)

    def extra(self):
        return np.sum(self.c**2) + super().extra()
"""


STACK_CLASS = """class Stack:
    def __init__(self, ws):
        self.layers = [Gate(w) for w in ws]
        self.named = {"first": self.layers[0], "last": Gate(0.5 * ws[-1], s=0.3)}

    def __call__(self, z):
        for layer in self.layers:
            z = layer(z)
        return z + 0.1 * self.named["last"](z)
"""


AFFINE_CLASS = """class Affine(NamedTuple):
    a: np.ndarray
    c: np.ndarray

    def __call__(self, z):
        return self.a * z + self.c

    def size(self):
        return np.sum(self.a**2)
"""


NORM_CLASS = """@dataclass
class Norm:
    g: np.ndarray
    eps: float = 0.5

    def forward(self, z):
        m = np.mean(z, axis=-1, keepdims=True)
        v = np.mean((z - m) ** 2, axis=-1, keepdims=True)
        return self.g * (z - m) / np.sqrt(v + self.eps) + 0.5 * z
"""


CONFIG_CLASS = """@dataclass
class Config:
    shift: np.ndarray
    scale: float = 0.8
    act: Callable = np.tanh
    steps: int = 1

    def apply(self, z):
        for _ in range(self.steps):
            z = self.act(z * self.scale + self.shift)
        return z
"""

HELPERS = {
    "apply": "def apply(layer, z, n=1):\n    for _ in range(n):\n        z = layer(z)\n    return z\n",
    "energy": "def energy(obj, z):\n    return np.sum(obj.forward(z) ** 2)\n",
}
