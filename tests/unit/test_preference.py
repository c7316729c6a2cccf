"""The preference math: gradients against finite differences, the shared optimum, the widget."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widgets import preference as P
from widgets.build_context import BuildContext

REF = [-2.82, -2.91]
finite = st.floats(min_value=-8.0, max_value=8.0, allow_nan=False)
betas = st.sampled_from(P.BETAS)
shares = st.floats(min_value=0.05, max_value=0.95)


def numeric_grad(f, x, h=1e-6):
    out = []
    for i in range(len(x)):
        up, down = list(x), list(x)
        up[i] += h
        down[i] -= h
        out.append((f(up) - f(down)) / (2 * h))
    return out


@settings(max_examples=60, deadline=None)
@given(finite, finite, betas, shares)
def test_dpo_gradient_matches_finite_differences(a, b, beta, p_a):
    theta = [REF[0] + a, REF[1] + b]
    num = numeric_grad(lambda t: P.dpo_loss(t, REF, p_a, beta), theta)
    assert P.dpo_grad(theta, REF, p_a, beta) == pytest.approx(num, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(finite, finite, shares)
def test_bradley_terry_gradient_matches_finite_differences(ra, rb, p_a):
    num = numeric_grad(lambda r: P.bt_loss(r, p_a), [ra, rb])
    assert P.bt_grad([ra, rb], p_a) == pytest.approx(num, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(finite, finite, finite, betas)
def test_rlhf_gradient_matches_finite_differences(a, b, r, beta):
    theta, reward = [REF[0] + a, REF[1] + b], [r, -r / 2]
    num = numeric_grad(lambda t: P.rlhf_objective(t, REF, reward, beta), theta)
    assert P.rlhf_grad(theta, REF, reward, beta) == pytest.approx(num, abs=1e-6)


def test_reference_point_values():
    assert P.dpo_loss(REF, REF, 0.9, 0.5) == pytest.approx(math.log(2))
    assert P.dpo_margin(REF, REF, 0.5) == 0.0
    assert P.kl_pair(REF, REF) == pytest.approx(0.0, abs=1e-15)
    assert P.pair_probs([-1.0, -1.0]) == (0.5, 0.5)
    assert P.log_sigmoid(-800.0) == -800.0


@pytest.mark.parametrize("p_a", [0.1, 0.5, 0.9])
def test_reward_fit_recovers_bradley_terry_margin(p_a):
    reward, iters = P.fit_reward(p_a)
    assert reward[0] - reward[1] == pytest.approx(P.logit(p_a), abs=1e-8)
    assert iters < 1000


@pytest.mark.parametrize("beta", P.BETAS)
@pytest.mark.parametrize("p_a", [0.1, 0.9])
def test_both_methods_reach_the_same_closed_form_optimum(beta, p_a):
    target = P.optimum_p_a(REF, p_a, beta)
    for method in ("dpo", "rlhf"):
        final = P.pair_probs(P.trajectory(method, REF, p_a, beta, 80)[-1])[0]
        assert final == pytest.approx(target, abs=1e-6), method


def test_optimum_is_stationary_for_both_objectives():
    beta, p_a = 0.5, 0.9
    shift = P.logit(p_a) / beta
    theta = [REF[0] + shift / 2, REF[1] - shift / 2]
    assert P.dpo_grad(theta, REF, p_a, beta)[0] == pytest.approx(0.0, abs=1e-12)
    reward, _ = P.fit_reward(p_a)
    assert P.rlhf_grad(theta, REF, reward, beta)[0] == pytest.approx(0.0, abs=1e-9)


def test_updates_move_monotonically_toward_the_pick():
    for method in ("dpo", "rlhf"):
        probs = [P.pair_probs(t)[0] for t in P.trajectory(method, REF, 0.9, 1.0, 15)]
        assert all(b >= a for a, b in zip(probs, probs[1:])), method
        probs = [P.pair_probs(t)[1] for t in P.trajectory(method, REF, 0.1, 1.0, 15)]
        assert all(b >= a for a, b in zip(probs, probs[1:])), method


def test_dpo_loss_falls_and_margin_grows():
    traj = P.trajectory("dpo", REF, 0.9, 1.0, 10)
    losses = [P.dpo_loss(t, REF, 0.9, 1.0) for t in traj]
    margins = [P.dpo_margin(t, REF, 1.0) for t in traj]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert all(b > a for a, b in zip(margins, margins[1:]))
    assert margins[-1] == pytest.approx(P.logit(0.9), abs=2e-2)


def test_larger_beta_stays_closer_to_the_reference():
    optima = [P.optimum_p_a(REF, 0.9, b) for b in P.BETAS]
    assert all(b < a for a, b in zip(optima, optima[1:]))
    assert optima[-1] > P.pair_probs(REF)[0]


def fake_ctx():
    return BuildContext(demos={"preference": {"prompt": P.PROMPT, "answers": P.ANSWERS,
                                              "logp": {"A": -225.8, "B": -136.9},
                                              "tokens": {"A": 80, "B": 47}}})


def test_widget_state_is_json_and_actions_update_it():
    s = P.initial_state({}, fake_ctx())
    json.dumps(s)
    assert s["ref"] == pytest.approx([-225.8 / 80, -136.9 / 47])
    s = P.update(s, "apply", "1")
    assert s["steps"] == 1
    s = P.update(s, "apply", "10")
    assert s["steps"] == 11
    r = P.readout(s)
    assert r["p"][0] > r["p_ref"][0]
    s2 = P.update(s, "method", "rlhf")
    assert s2["steps"] == 0 and s2["method"] == "rlhf"
    s3 = P.update(s2, "beta", "5")
    assert s3["beta"] == 5.0
    s4 = P.update(s3, "pick", "B")
    assert s4["pick"] == "B"
    assert P.update(s4, "beta", "0.3") == s4  # not one of the offered values
    assert P.update(s, "reset", None)["steps"] == 0


def test_render_shows_computed_numbers_and_controls():
    s = P.update(P.initial_state({}, fake_ctx()), "apply", "3")
    r = P.readout(s)
    html = P.render(s)
    assert P.pct(r["p"][0]) in html and P.pct(r["p"][1]) in html
    assert f'{r["loss"]:.4f}' in html
    for action in ("pick", "method", "beta", "apply", "reset"):
        assert f'data-action="{action}"' in html
    assert "<svg" in html and "polyline" in html
    assert "&quot;done!&quot;" in html  # answer text escaped
    rl = P.render(P.update(s, "method", "rlhf"))
    assert "Bradley–Terry" in rl and "r(A) − r(B)" in rl


def test_initial_state_names_the_missing_demos():
    with pytest.raises(ValueError, match="no artifact in the build context"):
        P.initial_state({}, BuildContext())
    with pytest.raises(ValueError, match="demos"):
        P.initial_state({}, BuildContext(demos={"preference": {"prompt": "another prompt"}}))
