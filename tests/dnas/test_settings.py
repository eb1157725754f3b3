import math

import pytest

from oneshot.dnas import CostLossSettings, DnasSettings
from oneshot.errors import UserInputError


def test_fbnet_temperature_decays_by_exp_minus_0045_per_epoch():
    s = DnasSettings(name="fbnet", tau_schedule="exp", tau_start=5.0, tau_decay=0.045)
    taus = [s.temperature(e, 90) for e in range(5)]
    assert taus[0] == 5.0
    for a, b in zip(taus, taus[1:]):
        assert b / a == pytest.approx(math.exp(-0.045))


def test_linear_temperature_runs_from_start_to_end():
    s = DnasSettings(name="gdas", tau_schedule="linear", tau_start=10.0, tau_end=0.1)
    assert s.temperature(0, 5) == 10.0 and s.temperature(4, 5) == pytest.approx(0.1)
    assert s.temperature(2, 5) == pytest.approx((10.0 + 0.1) / 2)
    assert DnasSettings(name="proxyless", tau_schedule="none").temperature(3, 5) == 1.0


@pytest.mark.parametrize("bad", [dict(name="darts"), dict(arch_lr=0), dict(arch_fraction=1.0),
                                 dict(tau_schedule="cosine"), dict(arch_betas=[0.9])])
def test_bad_method_settings_name_the_key(bad):
    with pytest.raises(UserInputError, match="method."):
        DnasSettings(**bad)


@pytest.mark.parametrize("bad", [dict(metric="energy"), dict(form="mul"), dict(target=-1.0)])
def test_bad_cost_settings_name_the_key(bad):
    with pytest.raises(UserInputError, match="cost."):
        CostLossSettings(**bad)
