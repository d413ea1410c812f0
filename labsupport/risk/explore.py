"""Plots of a desk run and an explorer for the limits: move a slider, rerun the desk, see who
gets halted and why.

- :func:`plot_equity_drawdown`: equity per account over the event sequence, and its drawdown
  against the drawdown limit;
- :func:`plot_var`: historical and EWMA VaR of one account over time, its limit, and the
  events where the historical VaR breached it;
- :func:`plot_alert_timeline`: every alert as a marker, one row per (account, metric),
  coloured by level;
- :func:`desk_summary` and :func:`limits_explorer`: the desk (:func:`.desk.run_desk`) rerun
  with the limits the sliders give (overriding :data:`.desk.DESK_LIMITS`' defaults), and what
  changed: decisions by reason, alerts by level, who was halted.
"""

from __future__ import annotations

from .desk import DESK_LIMITS, DeskRun, run_desk
from .limits import parse_limits

__all__ = ["desk_summary", "limits_explorer", "limits_text", "plot_alert_timeline",
           "plot_equity_drawdown", "plot_var"]

LEVEL_COLOURS = {"warn": "tab:orange", "breach": "tab:red", "clear": "tab:green"}


def limits_text(**overrides: float) -> str:
    """:data:`DESK_LIMITS` with some of its ``[defaults]`` replaced."""
    out = []
    section = ""
    for line in DESK_LIMITS.strip().splitlines():
        if line.startswith("["):
            section = line
        key = line.split("=")[0].strip()
        if section == "[defaults]" and key in overrides:
            line = f"{key} = {overrides[key]}"
        out.append(line)
    return "\n".join(out) + "\n"


def plot_equity_drawdown(run: DeskRun, accounts: list[str] | None = None):
    import matplotlib.pyplot as plt

    df = run.timeline_frame()
    accounts = accounts or sorted(a for a in df["account"].unique() if a != "mm")
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for a in accounts:
        d = df[df["account"] == a]
        ax1.plot(d["seq"], d["equity"], label=a, lw=1)
        ax2.plot(d["seq"], d["drawdown"], label=a, lw=1)
    limit = float(run.risk.limits.for_account(accounts[0]).raw["drawdown_limit"])
    ax2.axhline(limit, color="tab:red", ls="--", lw=1, label="drawdown limit")
    ax1.set(title="Equity per account (average-cost PnL at the last mark)",
            ylabel="equity (currency)")
    ax2.set(title="Drawdown (peak - equity); a breach halts the account",
            xlabel="event seq", ylabel="drawdown (currency)")
    ax1.legend(fontsize=8, ncol=4)
    ax2.legend(fontsize=8, ncol=5)
    fig.tight_layout()
    return fig


def plot_var(run: DeskRun, account: str):
    import matplotlib.pyplot as plt

    df = run.timeline_frame()
    d = df[df["account"] == account]
    limit = float(run.risk.limits.for_account(account).raw["var_limit"])
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(d["seq"], d["var_hist"], lw=1, label="historical VaR 95 %")
    ax.plot(d["seq"], d["var_ewma"], lw=1, label="EWMA VaR 95 % (RiskMetrics)")
    ax.axhline(limit, color="tab:red", ls="--", lw=1, label="var_limit")
    hits = [a.seq for a in run.risk.alerts if a.account == account and a.metric == "var_hist"
            and a.level == "breach"]
    ax.scatter(hits, [limit] * len(hits), color="tab:red", marker="v", zorder=3,
               label="breach alerts")
    ax.set(title=f"VaR of {account} per sample interval", xlabel="event seq",
           ylabel="VaR (currency)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_alert_timeline(run: DeskRun):
    import matplotlib.pyplot as plt

    alerts = run.risk.alerts
    rows = sorted({(a.account, a.metric) for a in alerts})
    index = {r: i for i, r in enumerate(rows)}
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(rows) + 1.2))
    for level, colour in LEVEL_COLOURS.items():
        pts = [(a.seq, index[(a.account, a.metric)]) for a in alerts if a.level == level]
        if pts:
            xs, ys = zip(*pts)
            ax.scatter(xs, ys, color=colour, label=level, s=18)
    ax.set_yticks(range(len(rows)), [f"{a} {m}" for a, m in rows], fontsize=8)
    ax.set(title="Alert timeline (hysteresis: warn at 80 %, breach at 100 %, clear below 70 %)",
           xlabel="event seq")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def desk_summary(n_rounds: int = 300, **limits: float) -> dict[str, object]:
    """Run the desk with these ``[defaults]`` limits; what it decided and raised."""
    run = run_desk(n_rounds, limits=parse_limits(limits_text(**limits)))
    levels: dict[str, int] = {}
    for a in run.risk.alerts:
        levels[f"{a.metric} {a.level}"] = levels.get(f"{a.metric} {a.level}", 0) + 1
    return {"decisions": run.reasons(), "alerts": dict(sorted(levels.items())),
            "halted": [m.account for m in run.risk.all_metrics() if m.halted],
            "trades": run.trades}


def limits_explorer(n_rounds: int = 300):
    """Sliders on the desk's main limits; each change reruns the desk and prints the summary."""
    import ipywidgets as w

    controls = dict(
        drawdown_limit=w.IntSlider(value=8000, min=1000, max=40000, step=1000,
                                   description="drawdown"),
        var_limit=w.IntSlider(value=400, min=50, max=3000, step=50, description="VaR"),
        price_collar_pct=w.FloatSlider(value=3, min=0.5, max=15, step=0.5, description="collar %"),
        max_position=w.IntSlider(value=2000, min=200, max=10000, step=200,
                                 description="max pos"),
    )

    def show(**kw: float) -> None:
        summary = desk_summary(n_rounds, **kw)
        for key, value in summary.items():
            print(f"{key:>9}: {value}")

    out = w.interactive_output(show, controls)
    items = list(controls.values())
    return w.VBox([w.HBox(items[:2]), w.HBox(items[2:]), out])


def var_backtest(n: int = 3000, *, window: int = 250, df: float = 3.0, jump_at: float = 0.5,
                 jump: float = 3.0, seed: int = 1) -> dict[str, object]:
    """Both VaR models forecasting a fat-tailed series of equity changes (Student-t shocks,
    volatility times ``jump`` from ``jump_at`` of the way on), one step ahead: each change is
    compared with the VaR known *before* it. Returns the series, both forecasts and the share
    of exceedances (a well-calibrated 95 % VaR is exceeded 5 % of the time) before and after
    the jump. Integers in money units, as the engine sees them."""
    import numpy as np

    from .var import EwmaVaR, HistoricalVaR

    rng = np.random.default_rng(seed)
    scale = ((df - 2) / df) ** 0.5
    vol = np.where(np.arange(n) < int(n * jump_at), 1.0, jump) * 100.0
    changes = (rng.standard_t(df, n) * scale * vol * 1e8).round().astype(np.int64).tolist()
    hist, ewma = HistoricalVaR(window), EwmaVaR()
    f_hist, f_ewma = [], []
    for c in changes:
        f_hist.append(hist.var100 / 100 / 1e8)
        f_ewma.append(ewma.value())
        hist.push(c)
        ewma.push(c)
    loss = -np.array(changes, dtype=float) / 1e8
    h, e = np.array(f_hist), np.array(f_ewma)
    cut = int(n * jump_at)
    rows = {}
    for name, sl in (("calm", slice(window, cut)), ("after the jump", slice(cut, n))):
        rows[name] = {"historical": round(float((loss[sl] > h[sl]).mean()) * 100, 1),
                      "ewma": round(float((loss[sl] > e[sl]).mean()) * 100, 1)}
    return {"loss": loss, "hist": h, "ewma": e, "exceed_pct": rows, "window": window}


def plot_var_backtest(bt: dict[str, object]):
    import matplotlib.pyplot as plt
    import numpy as np

    loss = np.asarray(bt["loss"])
    fig, ax = plt.subplots(figsize=(10, 3.5))
    x = np.arange(len(loss))
    ax.plot(x, loss, lw=0.5, color="0.6", label="loss (-change)")
    ax.plot(x, bt["hist"], lw=1.2, label=f"historical VaR 95 %, window {bt['window']}")
    ax.plot(x, bt["ewma"], lw=1.2, label="EWMA VaR 95 %")
    ax.set(title="One-step-ahead VaR on a fat-tailed series with a volatility jump",
           xlabel="sample", ylabel="currency")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
