"""SGD, Adam, AdamW, Adagrad and RMSprop with PyTorch's update rules.

Each step computes what ``torch.optim``'s single-tensor implementation computes, operation
for operation (the same order of roundings, except where PyTorch fuses a multiply-add), so that
float64 parameters agree with PyTorch's to about 1e-15 relative after 100 steps. Options and
defaults are PyTorch's. All arithmetic runs as ufuncs into the optimizer's own arrays
(``out=``): a step allocates nothing proportional to the parameters.
"""

from __future__ import annotations

from ..util.tree import Array, Tree, array_module
from .base import Optimizer, Slot

__all__ = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"]


def effective_grad(slot: Slot, g: Array, maximize: bool, weight_decay: float):
    """``-g`` when maximizing, plus ``weight_decay * param`` (an L2 penalty): ``g`` itself
    when neither applies, else ``slot.s0`` holding the result (``slot.s1`` is overwritten)."""
    xp = slot.xp
    if maximize:
        g = xp.negative(g, out=slot.s0)
    if weight_decay != 0:
        xp.multiply(slot.param, weight_decay, out=slot.s1)
        g = xp.add(g, slot.s1, out=slot.s0)
    return g


def lerp_(xp, start, end, weight: float, tmp) -> None:
    """``start += weight * (end - start)`` in place, rounded as ``torch.lerp_`` does (from
    the nearer end); ``tmp`` is overwritten."""
    xp.subtract(end, start, out=tmp)
    if weight < 0.5:
        xp.multiply(tmp, weight, out=tmp)
        xp.add(start, tmp, out=start)
    else:
        xp.multiply(tmp, 1.0 - weight, out=tmp)
        xp.subtract(end, tmp, out=start)


def addcmul_(xp, target: Array, a: Array, b, value: float, tmp) -> None:
    """``target += value * a * b`` in place, as ``torch.Tensor.addcmul_``; ``tmp`` is
    overwritten."""
    xp.multiply(a, value, out=tmp)
    xp.multiply(tmp, b, out=tmp)
    xp.add(target, tmp, out=target)


def addcdiv_(xp, target: Array, a: Array, b, value: float, tmp) -> None:
    """``target += value * a / b`` in place, as ``torch.Tensor.addcdiv_``; ``tmp`` may be
    ``b`` or ``a`` and is overwritten."""
    xp.multiply(a, value, out=tmp)
    xp.divide(tmp, b, out=tmp)
    xp.add(target, tmp, out=target)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class SGD(Optimizer):
    """Stochastic gradient descent (``torch.optim.SGD``): with ``momentum`` the buffer starts
    as the first gradient and then ``buf = momentum * buf + (1 - dampening) * g``; Nesterov
    steps along ``g + momentum * buf``; ``weight_decay`` adds ``weight_decay * param`` to the
    gradient; ``maximize`` ascends."""

    def __init__(
        self,
        params: Tree,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check(momentum >= 0.0, f"invalid momentum: {momentum}")
        _check(weight_decay >= 0.0, f"invalid weight_decay: {weight_decay}")
        _check(
            not nesterov or (momentum > 0 and dampening == 0),
            "Nesterov momentum requires a momentum and zero dampening",
        )
        hyper = dict(
            momentum=float(momentum),
            dampening=float(dampening),
            weight_decay=float(weight_decay),
            nesterov=bool(nesterov),
            maximize=bool(maximize),
        )
        super().__init__(params, lr, hyper)

    def state_names(self):
        return ("momentum_buffer",) if self.hyper["momentum"] != 0 else ()

    def update(self, slot: Slot, g: Array) -> None:
        h, xp, s0, s1 = self.hyper, slot.xp, slot.s0, slot.s1
        g = effective_grad(slot, g, h["maximize"], h["weight_decay"])
        momentum = h["momentum"]
        if momentum != 0:
            buf = slot.state[0]
            if self.steps == 1:
                xp.copyto(buf, g)
            else:
                xp.multiply(buf, momentum, out=buf)
                if h["dampening"] != 0:
                    xp.multiply(g, 1.0 - h["dampening"], out=s1)
                    xp.add(buf, s1, out=buf)
                else:
                    xp.add(buf, g, out=buf)
            if h["nesterov"]:
                xp.multiply(buf, momentum, out=s1)
                g = xp.add(g, s1, out=s0)
            else:
                g = buf
        xp.multiply(g, -self.lr, out=s1)
        xp.add(slot.param, s1, out=slot.param)


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``), with ``amsgrad`` (the running maximum of the second
    moment) and ``weight_decay`` as an L2 penalty added to the gradient (see :class:`AdamW`
    for decoupled weight decay)."""

    decoupled = False

    def __init__(
        self,
        params: Tree,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check(eps >= 0.0, f"invalid epsilon: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"invalid weight_decay: {weight_decay}")
        hyper = dict(
            betas=(float(betas[0]), float(betas[1])),
            eps=float(eps),
            weight_decay=float(weight_decay),
            amsgrad=bool(amsgrad),
            maximize=bool(maximize),
        )
        super().__init__(params, lr, hyper)

    def state_names(self):
        names = ("exp_avg", "exp_avg_sq")
        return names + ("max_exp_avg_sq",) if self.hyper["amsgrad"] else names

    def begin_step(self) -> None:
        beta1, beta2 = self.hyper["betas"]
        step = float(self.steps)
        self.now["step_size"] = self.lr / (1 - beta1**step)
        self.now["bias_correction2_sqrt"] = (1 - beta2**step) ** 0.5

    def update(self, slot: Slot, g: Array) -> None:
        h, xp, p, s0, s1 = self.hyper, slot.xp, slot.param, slot.s0, slot.s1
        beta1, beta2 = h["betas"]
        wd = h["weight_decay"]
        g = effective_grad(slot, g, h["maximize"], 0.0 if self.decoupled else wd)
        if self.decoupled and wd != 0:
            xp.multiply(p, 1.0 - self.lr * wd, out=p)
        exp_avg, exp_avg_sq = slot.state[0], slot.state[1]
        lerp_(xp, exp_avg, g, 1.0 - beta1, s1)
        xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        addcmul_(xp, exp_avg_sq, g, g, 1.0 - beta2, s1)
        second = exp_avg_sq
        if h["amsgrad"]:
            second = xp.maximum(slot.state[2], exp_avg_sq, out=slot.state[2])
        denom = xp.sqrt(second, out=s1)
        xp.divide(denom, self.now["bias_correction2_sqrt"], out=denom)
        xp.add(denom, h["eps"], out=denom)
        addcdiv_(xp, p, exp_avg, denom, -self.now["step_size"], s0)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): each step first scales the
    parameters by ``1 - lr * weight_decay``; the default ``weight_decay`` is 0.01."""

    decoupled = True

    def __init__(
        self,
        params: Tree,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad``): the sum of squared gradients (starting at
    ``initial_accumulator_value``) scales each step; the learning rate decays as
    ``lr / (1 + (step - 1) * lr_decay)``."""

    def __init__(
        self,
        params: Tree,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        _check(lr_decay >= 0.0, f"invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"invalid weight_decay value: {weight_decay}")
        _check(
            initial_accumulator_value >= 0.0,
            f"invalid initial_accumulator_value value: {initial_accumulator_value}",
        )
        _check(eps >= 0.0, f"invalid epsilon value: {eps}")
        hyper = dict(
            lr_decay=float(lr_decay),
            weight_decay=float(weight_decay),
            initial_accumulator_value=float(initial_accumulator_value),
            eps=float(eps),
            maximize=bool(maximize),
        )
        super().__init__(params, lr, hyper)

    def state_names(self):
        return ("sum",)

    def initial_state(self, name: str, param: Array) -> Array:
        return array_module(param).full_like(param, self.hyper["initial_accumulator_value"])

    def begin_step(self) -> None:
        self.now["clr"] = self.lr / (1 + (float(self.steps) - 1) * self.hyper["lr_decay"])

    def update(self, slot: Slot, g: Array) -> None:
        h, xp, s0, s1 = self.hyper, slot.xp, slot.s0, slot.s1
        g = effective_grad(slot, g, h["maximize"], h["weight_decay"])
        state_sum = slot.state[0]
        xp.multiply(g, g, out=s1)
        xp.add(state_sum, s1, out=state_sum)
        std = xp.sqrt(state_sum, out=s1)
        xp.add(std, h["eps"], out=std)
        addcdiv_(xp, slot.param, g, std, -self.now["clr"], s0)


class RMSprop(Optimizer):
    """RMSprop (``torch.optim.RMSprop``): a running average of squared gradients with
    coefficient ``alpha`` scales each step; ``centered`` subtracts the square of the running
    average of the gradients; ``momentum`` keeps a buffer of the scaled steps."""

    def __init__(
        self,
        params: Tree,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check(eps >= 0.0, f"invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"invalid alpha value: {alpha}")
        hyper = dict(
            alpha=float(alpha),
            eps=float(eps),
            weight_decay=float(weight_decay),
            momentum=float(momentum),
            centered=bool(centered),
            maximize=bool(maximize),
        )
        super().__init__(params, lr, hyper)

    def state_names(self):
        names = ("square_avg",)
        if self.hyper["centered"]:
            names += ("grad_avg",)
        if self.hyper["momentum"] > 0:
            names += ("momentum_buffer",)
        return names

    def update(self, slot: Slot, g: Array) -> None:
        h, xp, s0, s1 = self.hyper, slot.xp, slot.s0, slot.s1
        g = effective_grad(slot, g, h["maximize"], h["weight_decay"])
        alpha = h["alpha"]
        square_avg = slot.state[0]
        xp.multiply(square_avg, alpha, out=square_avg)
        addcmul_(xp, square_avg, g, g, 1.0 - alpha, s1)
        if h["centered"]:
            grad_avg = slot.state[1]
            lerp_(xp, grad_avg, g, 1.0 - alpha, s1)
            avg = xp.multiply(grad_avg, grad_avg, out=s1)
            xp.subtract(square_avg, avg, out=avg)
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg, out=s1)
        xp.add(avg, h["eps"], out=avg)
        if h["momentum"] > 0:
            buf = slot.state[-1]
            xp.multiply(buf, h["momentum"], out=buf)
            xp.divide(g, avg, out=avg)
            xp.add(buf, avg, out=buf)
            xp.multiply(buf, -self.lr, out=s1)
            xp.add(slot.param, s1, out=slot.param)
        else:
            addcdiv_(xp, slot.param, g, avg, -self.lr, s0)
