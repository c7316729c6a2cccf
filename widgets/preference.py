"""Preference tuning on one pair of answers: DPO and RLHF, computed in plain Python.

The policy is reduced to the two numbers that matter for one comparison: its log-probabilities
of answer A and answer B, ``theta = [log pi(A), log pi(B)]`` (the widget uses the average per
token, so that the longer answer is not less likely merely for being longer).  The frozen reference starts at the
same values (``ref``), taken from the shipped model.  What the reader sees is the pair
renormalised, ``P(A) = exp(theta_A) / (exp(theta_A) + exp(theta_B))``.

The preference data is a share ``p_a`` of comparisons that favour A (for example 0.9 when 9 of 10
raters picked A).  A unanimous vote (p_a = 1) has no finite optimum: both methods would push the
margin up forever, which is why the widget keeps a dissenting vote.

Both methods share one optimum, the closed form of the KL-regularised objective:

    log pi*(A)/pi*(B) = log ref(A)/ref(B) + logit(p_a) / beta

>>> round(optimum_p_a([-3.0, -3.0], 0.9, 1.0), 4)
0.9
"""

import math
from html import escape

from .demos import PREFERENCE_ANSWERS as ANSWERS, PREFERENCE_PROMPT as PROMPT, from_ctx
from .glossary import mark
from .markup import button, choices

# How the widget steps: the raw gradients below are exact; these factors rescale the step so that
# every beta converges in a similar number of clicks (the curvature of both objectives scales
# with beta).
DPO_STEP = 2.0      # step on theta is DPO_STEP / beta**2 times the DPO gradient
RLHF_STEP = 0.35    # natural-gradient step on the policy, as a fraction of the way to the optimum
REWARD_STEP = 4.0   # gradient-descent step of the Bradley-Terry fit (its curvature is <= 1/4)


def sigmoid(x):
    """Logistic function, stable for large |x|.  sigmoid(0) == 0.5."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def log_sigmoid(x):
    """log(sigmoid(x)) without overflow: log_sigmoid(-800) == -800."""
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


def logit(p):
    """Inverse of sigmoid: logit(0.9) = log 9 = 2.197..."""
    return math.log(p) - math.log1p(-p)


def pair_probs(theta):
    """Renormalise two log-probabilities over the pair: pair_probs([-1, -1]) == (0.5, 0.5)."""
    p_a = sigmoid(theta[0] - theta[1])
    return p_a, 1.0 - p_a


# --- DPO -------------------------------------------------------------------------------------

def dpo_margin(theta, ref, beta):
    """Implicit reward margin of A over B: beta * ((th_A - ref_A) - (th_B - ref_B))."""
    return beta * ((theta[0] - ref[0]) - (theta[1] - ref[1]))


def dpo_loss(theta, ref, p_a, beta):
    """DPO loss over the comparisons, soft-labelled: a share p_a of them prefer A.

    loss = -[p_a log sigmoid(z) + (1 - p_a) log sigmoid(-z)],  z = dpo_margin(...)
    At the reference z = 0 and the loss is log 2 whatever the labels.
    """
    z = dpo_margin(theta, ref, beta)
    return -(p_a * log_sigmoid(z) + (1.0 - p_a) * log_sigmoid(-z))


def dpo_grad(theta, ref, p_a, beta):
    """Gradient of dpo_loss with respect to theta: beta * (sigmoid(z) - p_a) * [1, -1]."""
    g = beta * (sigmoid(dpo_margin(theta, ref, beta)) - p_a)
    return [g, -g]


def dpo_step(theta, ref, p_a, beta):
    """One gradient-descent step of the DPO loss on the policy's two log-probabilities."""
    g = dpo_grad(theta, ref, p_a, beta)
    lr = DPO_STEP / (beta * beta)
    return [theta[0] - lr * g[0], theta[1] - lr * g[1]]


# --- RLHF: a Bradley-Terry reward model, then KL-regularised policy steps -------------------

def bt_loss(reward, p_a):
    """Bradley-Terry negative log-likelihood of the comparisons for rewards [r_A, r_B]."""
    d = reward[0] - reward[1]
    return -(p_a * log_sigmoid(d) + (1.0 - p_a) * log_sigmoid(-d))


def bt_grad(reward, p_a):
    """Gradient of bt_loss: (sigmoid(r_A - r_B) - p_a) * [1, -1]."""
    g = sigmoid(reward[0] - reward[1]) - p_a
    return [g, -g]


def fit_reward(p_a, tol=1e-10, max_iter=10000):
    """Fit the Bradley-Terry rewards by gradient descent from zero.

    Returns (reward, iterations).  The fitted margin r_A - r_B approaches logit(p_a).
    """
    reward = [0.0, 0.0]
    for it in range(1, max_iter + 1):
        g = bt_grad(reward, p_a)
        reward = [reward[0] - REWARD_STEP * g[0], reward[1] - REWARD_STEP * g[1]]
        if abs(g[0]) < tol:
            return reward, it
    return reward, max_iter


def kl_pair(theta, ref):
    """KL(policy || reference) over the pair, both renormalised."""
    p = pair_probs(theta)
    q = pair_probs(ref)
    return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0.0)


def rlhf_objective(theta, ref, reward, beta):
    """Expected reward minus beta times the KL to the reference, over the pair."""
    p = pair_probs(theta)
    return p[0] * reward[0] + p[1] * reward[1] - beta * kl_pair(theta, ref)


def rlhf_grad(theta, ref, reward, beta):
    """Exact policy gradient of rlhf_objective with respect to theta.

    With pi = softmax(theta) and g_i = r_i - beta * log(pi_i / ref_i), the gradient is
    pi_A * pi_B * (g_A - g_B) * [1, -1].
    """
    p_a, p_b = pair_probs(theta)
    q_a, q_b = pair_probs(ref)
    log_ratio = (theta[0] - theta[1]) - (ref[0] - ref[1])  # log(pi_A/q_A) - log(pi_B/q_B)
    g = p_a * p_b * ((reward[0] - reward[1]) - beta * log_ratio)
    return [g, -g]


def rlhf_step(theta, ref, reward, beta):
    """One natural-gradient ascent step: the plain gradient divided by the policy's Fisher
    information (pi_A * pi_B) and by beta, so that a step moves a fixed share of the way."""
    p_a, p_b = pair_probs(theta)
    g = rlhf_grad(theta, ref, reward, beta)[0]
    step = 0.5 * RLHF_STEP * g / (max(p_a * p_b, 1e-300) * beta)
    return [theta[0] + step, theta[1] - step]


# --- Both ------------------------------------------------------------------------------------

def optimum_p_a(ref, p_a, beta):
    """P(A) at the shared optimum of both methods."""
    return sigmoid((ref[0] - ref[1]) + logit(p_a) / beta)


def trajectory(method, ref, p_a, beta, steps):
    """Policy log-probabilities after 0..steps updates: a list of steps + 1 pairs.

    >>> t = trajectory("dpo", [-2.0, -2.0], 0.9, 1.0, 60)
    >>> round(pair_probs(t[-1])[0], 3)
    0.9
    """
    theta = list(ref)
    out = [theta]
    if method == "rlhf":
        reward, _ = fit_reward(p_a)
        for _ in range(steps):
            theta = rlhf_step(theta, ref, reward, beta)
            out.append(theta)
    elif method == "dpo":
        for _ in range(steps):
            theta = dpo_step(theta, ref, p_a, beta)
            out.append(theta)
    else:
        raise ValueError(f"unknown method {method!r}: expected 'dpo' or 'rlhf'")
    return out


# --- The widget ------------------------------------------------------------------------------

BETAS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
AGREE = 0.9  # share of comparisons that side with the reader's pick


def initial_state(options, ctx):
    """State of the widget before any click; log-likelihoods come from the build's demos.json."""
    pref = from_ctx(ctx).get("preference") or {}
    if pref.get("prompt") != PROMPT or set(pref.get("answers", {})) != {"A", "B"}:
        raise ValueError("demos.json has no preference log-likelihoods for this pair: "
                         "rebuild them with `python -m widgets.demos`")
    logp, tokens = pref["logp"], pref["tokens"]
    return {
        "ref": [logp["A"] / tokens["A"], logp["B"] / tokens["B"]],
        "logp": [logp["A"], logp["B"]],
        "tokens": [tokens["A"], tokens["B"]],
        "pick": options.get("pick", "A"),
        "method": options.get("method", "dpo"),
        "beta": float(options.get("beta", 1.0)),
        "steps": 0,
    }


def update(state, action, value):
    """Pure state transition.  Changing the pick, the method or beta starts again from the
    reference, so each run is one clean optimisation."""
    s = dict(state)
    if action == "pick" and value in ("A", "B"):
        s["pick"], s["steps"] = value, 0
    elif action == "method" and value in ("dpo", "rlhf"):
        s["method"], s["steps"] = value, 0
    elif action == "beta" and value is not None and float(value) in BETAS:
        s["beta"], s["steps"] = float(value), 0
    elif action == "apply":
        s["steps"] = min(s["steps"] + int(value or 1), 200)
    elif action == "reset":
        s["steps"] = 0
    return s


def p_a_data(state):
    """Share of comparisons preferring A implied by the reader's pick."""
    return AGREE if state["pick"] == "A" else 1.0 - AGREE


def readout(state):
    """Every number the widget shows, computed from the state."""
    ref, beta, p_a = state["ref"], state["beta"], p_a_data(state)
    theta = trajectory(state["method"], ref, p_a, beta, state["steps"])[-1]
    out = {"p": pair_probs(theta), "p_ref": pair_probs(ref),
           "optimum": optimum_p_a(ref, p_a, beta), "steps": state["steps"]}
    if state["method"] == "dpo":
        out["loss"] = dpo_loss(theta, ref, p_a, beta)
        out["margin"] = dpo_margin(theta, ref, beta)
    else:
        reward, iters = fit_reward(p_a)
        out["reward"], out["reward_iters"] = reward, iters
        out["kl"] = kl_pair(theta, ref)
        out["objective"] = rlhf_objective(theta, ref, reward, beta)
    return out


def pct(p):
    """Percent with one decimal that never rounds a non-certain value to 0 or 100."""
    if p < 0.0005:
        return "< 0.1%" if p > 0 else "0%"
    if p > 0.9995:
        return "> 99.9%" if p < 1 else "100%"
    return f"{100 * p:.1f}%"


def _chart(state, horizon):
    """SVG: P(preferred answer) after each update, for both methods, and the shared optimum."""
    ref, beta, p_a = state["ref"], state["beta"], p_a_data(state)
    side = 0 if state["pick"] == "A" else 1
    opt = optimum_p_a(ref, p_a, beta)
    opt = opt if side == 0 else 1.0 - opt
    w, h, left, top, right, bottom = 320, 150, 36, 8, 8, 26

    def x(i):
        return left + (w - left - right) * i / horizon

    def y(p):
        return top + (h - top - bottom) * (1.0 - p)

    parts = [f'<svg class="llmb-pref-chart" viewBox="0 0 {w} {h}" role="img" '
             f'aria-label="Probability of the preferred answer {state["pick"]} over {horizon} '
             f'updates: DPO and RLHF both approach {pct(opt)}">']
    for p in (0.0, 0.5, 1.0):
        parts.append(f'<line class="grid" x1="{left}" x2="{w - right}" y1="{y(p):.1f}" '
                     f'y2="{y(p):.1f}"/><text x="{left - 4}" y="{y(p) + 4:.1f}" '
                     f'text-anchor="end">{int(p * 100)}%</text>')
    parts.append(f'<line class="optimum" x1="{left}" x2="{w - right}" y1="{y(opt):.1f}" '
                 f'y2="{y(opt):.1f}"/>')
    for method in ("rlhf", "dpo"):
        pts = " ".join(f"{x(i):.1f},{y(pair_probs(t)[side]):.1f}" for i, t in
                       enumerate(trajectory(method, ref, p_a, beta, horizon)))
        chosen = " chosen" if method == state["method"] else ""
        parts.append(f'<polyline class="{method}{chosen}" points="{pts}"/>')
    parts.append(f'<line class="now" x1="{x(state["steps"]):.1f}" x2="{x(state["steps"]):.1f}" '
                 f'y1="{top}" y2="{h - bottom}"/>')
    parts.append(f'<text x="{left}" y="{h - 12}" text-anchor="middle">0</text>'
                 f'<text x="{w - right}" y="{h - 12}" text-anchor="end">{horizon}</text>'
                 f'<text x="{(left + w - right) / 2:.0f}" y="{h - 2}" text-anchor="middle">'
                 f'updates applied</text></svg>')
    return "".join(parts)


DIAGRAMS = {
    "dpo": ("comparison: A vs B",
            "DPO loss: policy vs frozen reference",
            "gradient step on the policy"),
    "rlhf": ("comparisons: A vs B",
             "reward model (Bradley–Terry fit)",
             "RL step: more reward, KL leash to the reference"),
}


def _diagram(method):
    name = "DPO" if method == "dpo" else "RLHF"
    steps = "".join(f'<li>{mark(escape(b))}</li>' for b in DIAGRAMS[method])
    return f'<ol class="llmb-pref-flow" aria-label="How {name} computes its update">{steps}</ol>'


def render(state):
    r = readout(state)
    pa, pb = r["p"]
    side = 0 if state["pick"] == "A" else 1
    opt = r["optimum"] if side == 0 else 1.0 - r["optimum"]
    cards = []
    for key, p, p0 in (("A", pa, r["p_ref"][0]), ("B", pb, r["p_ref"][1])):
        picked = state["pick"] == key
        cards.append(
            f'<div class="llmb-pref-card{" picked" if picked else ""}">'
            f'<p class="llmb-pref-label">Answer {key}</p>'
            f'<p class="llmb-pref-text">{escape(ANSWERS[key])}</p>'
            f'<p class="llmb-pref-prob" data-prob="{key}">P({key}) = <strong>{pct(p)}</strong>'
            f' <span class="llmb-muted">(model before tuning: {pct(p0)})</span></p>'
            f'<div class="llmb-bar" aria-hidden="true"><span style="width:{100 * p:.2f}%"></span></div>'
            + button("pick", f"Prefer {key}", key, pressed=picked) + '</div>')
    methods = choices("method", state["method"], [(m, m.upper()) for m in ("dpo", "rlhf")])
    betas = choices("beta", state["beta"], [(b, f"{b:g}") for b in BETAS])
    if state["method"] == "dpo":
        stats = (f'<li>{mark("DPO")} loss: <strong data-stat="loss">{r["loss"]:.4f}</strong> '
                 f'(log 2 = 0.6931 at the start)</li>'
                 f'<li>Implicit reward margin of A over B: <strong data-stat="margin">'
                 f'{r["margin"]:+.3f}</strong></li>')
    else:
        rw = r["reward"]
        stats = (f'<li>Reward model: r(A) − r(B) = <strong data-stat="reward">{rw[0] - rw[1]:+.3f}'
                 f'</strong> (fitted in {r["reward_iters"]} steps)</li>'
                 f'<li>KL to the reference: <strong data-stat="kl">{r["kl"]:.4f}</strong>; '
                 f'objective: <strong data-stat="objective">{r["objective"]:.4f}</strong></li>')
    tok, logp = state["tokens"], state["logp"]
    return (
        f'<div class="llmb-pref">'
        f'<p class="llmb-pref-prompt"><span class="llmb-muted">Prompt:</span> {escape(PROMPT)}</p>'
        f'<div class="llmb-pref-cards">{"".join(cards)}</div>'
        f'<div class="llmb-row" role="group" aria-label="Method">Method: {methods}</div>'
        f'<div class="llmb-row" role="group" aria-label="Beta">β (KL strength): {betas}</div>'
        f'<div class="llmb-row">{button("apply", "Apply update", 1)}'
        f'{button("apply", "Apply 10 updates", 10)}{button("reset", "Reset", "")}</div>'
        f'<ul class="llmb-pref-stats" aria-live="polite">'
        f'<li>Updates applied: <strong data-stat="steps">{r["steps"]}</strong></li>{stats}'
        f'<li>Shared optimum: P({escape(state["pick"])}) = <strong data-stat="optimum">{pct(opt)}'
        f'</strong></li></ul>'
        f'{_diagram(state["method"])}'
        f'{_chart(state, max(20, state["steps"]))}'
        f'<p class="llmb-legend"><span class="key dpo"></span> DPO '
        f'<span class="key rlhf"></span> RLHF <span class="key optimum"></span> shared optimum '
        f'(the thicker line is the method you chose; the vertical line marks where you are)</p>'
        f'<p class="llmb-note">Where P(A) and P(B) come from: the shipped model scored both answers '
        f'after the chat-formatted prompt. Whole answers get log-likelihoods of {logp[0]:.1f} '
        f'({tok[0]} tokens) and {logp[1]:.1f} ({tok[1]} tokens); since every extra token lowers '
        f'that total, the widget uses the average per token ({state["ref"][0]:.3f} and '
        f'{state["ref"][1]:.3f}) and renormalises the two so they add up to 100%. '
        f'The preference data: {round(AGREE * 10)} of 10 comparisons side with your pick.'
        f'</p></div>')
