"""Parameter groups (PyTorch's ``[{"params": ..., "lr": ...}, ...]``): each group steps with
its own hyperparameters exactly as torch.optim's groups do, from one gradient tree per group;
the state dict round-trips (through ``util.save`` too)."""

import numpy as np
import pytest

from sourcegrad import optim, util

from .test_optim import array_leaves, gradient_sequence, make_params

GROUP_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.01, nesterov=True, dampening=0.0)),
    ("Adam", dict(lr=0.01), dict(lr=0.001, betas=(0.5, 0.9), weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True), dict(weight_decay=0.3)),
    ("RMSprop", dict(lr=0.01), dict(momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1), dict(lr_decay=0.01)),
]


def _groups(own):
    rng = np.random.default_rng(0)
    a, b = make_params(rng), make_params(rng)
    return a, b, [{"params": a}, {"params": b, **own}]


def _gradients(a, b, steps):
    return list(zip(gradient_sequence(a, steps, 1), gradient_sequence(b, steps, 2)))


@pytest.mark.parametrize("name, kw, own", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_groups_agree_with_torch(name, kw, own):
    torch = pytest.importorskip("torch")
    a, b, groups = _groups(own)
    grads = _gradients(a, b, 30)
    ta = [torch.tensor(p.copy(), requires_grad=True) for p in array_leaves(a)]
    tb = [torch.tensor(p.copy(), requires_grad=True) for p in array_leaves(b)]
    topt = getattr(torch.optim, name)([{"params": ta}, {"params": tb, **own}], foreach=False, **kw)
    opt = getattr(optim, name)(groups, **kw)
    for ga, gb in grads:
        for t, g in zip(ta + tb, array_leaves(ga) + array_leaves(gb)):
            t.grad = torch.tensor(g)
        topt.step()
        opt.step([ga, gb])
    for p, t in zip(array_leaves(a) + array_leaves(b), ta + tb):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert opt.steps == 30 and all(g.steps == 30 for g in opt.groups)


def test_state_dict_round_trip(tmp_path):
    a, b, groups = _groups(dict(lr=0.001, weight_decay=0.1))
    grads = _gradients(a, b, 8)
    opt = optim.Adam(groups, lr=0.01)
    for g in grads[:4]:
        opt.step(list(g))
    util.save(tmp_path / "opt.npz", opt.state_dict())
    saved = util.load(tmp_path / "opt.npz")
    snapshot = [p.copy() for p in array_leaves(a) + array_leaves(b)]
    for g in grads[4:]:
        opt.step(list(g))
    expected = [p.copy() for p in array_leaves(a) + array_leaves(b)]
    for p, s in zip(array_leaves(a) + array_leaves(b), snapshot):
        p[...] = s
    fresh = optim.Adam([{"params": a}, {"params": b, "lr": 0.5}], lr=0.3)  # restored below
    fresh.load_state_dict(saved)
    assert fresh.groups[1].lr == 0.001 and fresh.groups[1].hyper["weight_decay"] == 0.1
    for g in grads[4:]:
        fresh.step(list(g))
    for p, e in zip(array_leaves(a) + array_leaves(b), expected):
        np.testing.assert_array_equal(p, e)


def test_refusals():
    a, b, groups = _groups({})
    opt = optim.SGD(groups, lr=0.1)
    before = [p.copy() for p in array_leaves(a)]
    with pytest.raises(util.TreeStructureError, match="one per group"):
        opt.step(gradient_sequence(a, 1)[0])
    ga, gb = _gradients(a, b, 1)[0]
    with pytest.raises(util.TreeStructureError):
        opt.step([ga, ga["layers"]])
    assert all((p == q).all() for p, q in zip(array_leaves(a), before))  # nothing updated
    with pytest.raises(optim.OptimizerStateError, match="also in an earlier group"):
        optim.SGD([{"params": a}, {"params": a["layers"]}], lr=0.1)
    with pytest.raises(optim.OptimizerStateError, match="parameter groups"):
        optim.SGD(a, lr=0.1).load_state_dict(opt.state_dict())
    with pytest.raises(TypeError, match="one schedule per parameter group"):
        optim.StepLR(opt, 2)
    schedule = optim.StepLR(opt.groups[1], 1, gamma=0.5)
    schedule.step()
    assert opt.groups[1].lr == 0.05 and opt.groups[0].lr == 0.1
