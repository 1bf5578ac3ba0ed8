"""sourcegrad.optim's learning-rate schedules give PyTorch's learning rates."""

import numpy as np
import pytest

from sourcegrad import optim

torch = pytest.importorskip("torch")

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.01)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95**epoch)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: min(1.0, (epoch + 1) / 5))),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SCHEDULES)]


def torch_rates(name, kw, epochs, lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    schedule = getattr(torch.optim.lr_scheduler, name)(opt, **kw)
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        opt.step()
        schedule.step()
        rates.append(opt.param_groups[0]["lr"])
    return rates


@pytest.mark.parametrize("name, kw", SCHEDULES, ids=IDS)
def test_rates_equal_torch(name, kw):
    opt = optim.SGD({"w": np.zeros(1)}, lr=0.1)
    schedule = getattr(optim, name)(opt, **kw)
    rates = [opt.lr]
    for _ in range(40):  # past T_max: cosine annealing goes back up, as PyTorch's does
        opt.step({"w": np.zeros(1)})
        schedule.step()
        rates.append(opt.lr)
    np.testing.assert_allclose(rates, torch_rates(name, kw, 40), rtol=1e-15, atol=0)
    assert schedule.get_last_lr() == opt.lr


@pytest.mark.parametrize("name, kw", SCHEDULES[::2], ids=IDS[::2])
def test_state_dict_resumes(name, kw):
    opt = optim.SGD({"w": np.zeros(1)}, lr=0.1)
    schedule = getattr(optim, name)(opt, **kw)
    for _ in range(6):
        schedule.step()
    saved_opt, saved = opt.state_dict(), schedule.state_dict()
    assert "optimizer" not in saved and "lr_lambda" not in saved
    expected = []
    for _ in range(8):
        schedule.step()
        expected.append(opt.lr)
    # as with PyTorch: make the optimizer and the schedule, then load both
    opt2 = optim.SGD({"w": np.zeros(1)}, lr=1.0)
    schedule2 = getattr(optim, name)(opt2, **kw)
    opt2.load_state_dict(saved_opt)
    schedule2.load_state_dict(saved)
    assert opt2.lr == saved_opt["lr"]
    got = []
    for _ in range(8):
        schedule2.step()
        got.append(opt2.lr)
    assert got == expected


def test_resuming_with_last_epoch_as_torch():
    opt = optim.SGD({"w": np.zeros(1)}, lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        optim.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    opt.initial_lr = 0.1
    schedule = optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.01, last_epoch=4)
    rates = [opt.lr]
    for _ in range(5):
        schedule.step()
        rates.append(opt.lr)
    tensor = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([{"params": [tensor], "initial_lr": 0.1}], lr=0.1)
    tschedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        topt, T_max=10, eta_min=0.01, last_epoch=4
    )
    expected = [topt.param_groups[0]["lr"]]
    for _ in range(5):
        topt.step()
        tschedule.step()
        expected.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(rates, expected, rtol=1e-15)


def test_a_schedule_needs_a_sourcegrad_optimizer():
    with pytest.raises(TypeError, match="not a sourcegrad Optimizer"):
        optim.StepLR(object(), step_size=2)
