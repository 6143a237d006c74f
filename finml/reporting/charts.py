"""Plotly figure builders: pure functions, data in, figure out.

Plotly draws a subset of HTML in titles, tick labels and legends (``<a href>`` among it),
so every name that comes from the data (class values, feature and column names, run names,
file names) passes through :func:`plain` first.
"""

from __future__ import annotations

import html
import math
import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from finml.reporting.formats import CELL_NAMES, row_rates


def plain(text) -> str:
    """A name from the data as plotly text: its HTML escaped (plotly shows ``&lt;`` as
    ``<``), so ``<a href=...>`` or ``<b>`` in a class or column name stays text."""
    return html.escape(str(text), quote=False)


#: Legends go below the plot, left-aligned, in rows: a legend on the right takes its width
#: from the plot, which at 1024 px in two columns leaves a ROC curve a sliver.
LEGEND_BELOW = {
    "orientation": "h",
    "yanchor": "top",
    "y": -0.22,
    "xanchor": "left",
    "x": 0,
    "traceorder": "normal",  # plotly reverses a legend with filled bands otherwise
}

_LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 50, "b": 50},
    "template": "plotly_white",
    "legend": LEGEND_BELOW,
}

#: Characters of a legend line before a long name wraps, and lines before it is cut short.
LEGEND_WIDTH = 34
LEGEND_LINES = 2


def legend_name(text, width: int = LEGEND_WIDTH, lines: int = LEGEND_LINES) -> str:
    """A name from the data as a legend entry: escaped (:func:`plain`), wrapped at
    ``width`` characters onto at most ``lines`` lines (``<br>``), the rest cut to "…", so
    a long run name does not widen the legend (the full name stays in the hover text)."""
    parts = textwrap.wrap(str(text), width, break_long_words=True) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "…"
    return "<br>".join(plain(part) for part in parts)


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into
    about ``ticks`` intervals."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9)) * power
    return float(f"{step:.12g}")


def nice_axis(low: float, high: float, ticks: int = 5, zero: bool = False) -> dict:
    """A value axis with round ticks from ``low`` to ``high`` (extended outward to whole
    steps; from 0 with ``zero``): plotly's ``range``, ``tick0``, ``dtick`` and linear
    ticks, so a second y-axis reads 0.5, 0.6, ... rather than 0.434, 0.869."""
    low, high = (0.0 if zero else float(low)), float(high)
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    step = nice_step(high - low, ticks)
    start = math.floor(low / step + 1e-9) * step
    end = math.ceil(high / step - 1e-9) * step
    return {
        "range": [start, end],
        "tickmode": "linear",
        "tick0": start,
        "dtick": step,
        "showgrid": False,  # the first axis's grid; two grids that do not meet are noise
    }


def epoch_axis(steps) -> dict:
    """An x-axis of epochs or iterations: whole-number ticks (every step while there are
    at most ten; else a round whole step), from step 1, never 1.5 or 2.5."""
    steps = pd.Series(steps, dtype=float).dropna()
    last = float(steps.max()) if len(steps) else 1.0
    first = float(steps.min()) if len(steps) else 1.0
    dtick = 1 if last - first <= 10 else max(1, round(nice_step(last - first, 8)))
    return {
        "title": "epoch / iteration",
        "tickmode": "linear",
        "tick0": 0 if dtick > 1 else 1,
        "dtick": dtick,
        "tickformat": "d",
        "rangemode": "nonnegative",
    }


#: Fewest steps (epochs, iterations) a history needs to be drawn as a learning curve.
MIN_CURVE_STEPS = 2


def curve_steps(history: pd.DataFrame) -> int:
    """How many distinct steps of ``history`` (columns ``step`` and metrics) logged a
    value: 1 for a one-shot fit (logistic regression, ridge)."""
    if history is None or "step" not in history or not len(history):
        return 0
    values = history.drop(columns="step").notna().any(axis=1)
    return int(history.loc[values, "step"].nunique())


def has_learning_curve(history: pd.DataFrame) -> bool:
    """True when ``history`` has at least :data:`MIN_CURVE_STEPS` steps: a model fitted in
    one go has no learning curve, only its final losses (lone dots, not a curve)."""
    return curve_steps(history) >= MIN_CURVE_STEPS


def one_shot_note(history: pd.DataFrame) -> str:
    """What to say instead of a learning curve for a history of fewer than two steps: that
    the model was fitted in one step, with the losses it logged (if any)."""
    words = {
        "loss": "training loss",
        "val_loss": "validation loss",
        "val_auc": "validation ROC-AUC",
        "val_rmse": "validation RMSE",
    }
    last = history.iloc[-1] if history is not None and len(history) else {}
    values = [
        f"{label} {float(last[key]):.4g}"
        for key, label in words.items()
        if key in last and pd.notna(last[key])
    ]
    said = f" ({', '.join(values)})" if values else ""
    return (
        f"No learning curve: this model is fitted in one step, not over epochs or iterations{said}."
    )


def learning_curves(history: pd.DataFrame, title: str = "Learning curves") -> go.Figure:
    """Loss and validation loss (left axis) and validation ROC-AUC or, for regression, the
    validation RMSE in the target's units (right axis, round ticks) per step (whole-number
    ticks). A history of fewer than :data:`MIN_CURVE_STEPS` steps (a one-shot fit) gets no
    curve of lone dots: an empty figure that says so (:func:`one_shot_note`); pages ask
    :func:`has_learning_curve` first and show the note as a caption.

    Args:
        history: columns ``step`` and any of ``loss``, ``val_loss``, ``val_auc``,
            ``val_rmse``.
        title: figure title.
    """
    fig = go.Figure()
    if not has_learning_curve(history):
        fig.add_annotation(
            text="<br>".join(textwrap.wrap(one_shot_note(history), 60)),
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
        )
        fig.update_layout(
            title=title,
            height=220,
            xaxis={"visible": False},
            yaxis={"visible": False},
            **_LAYOUT,
        )
        return fig
    names = {"loss": "training loss", "val_loss": "validation loss"}
    for key, label in names.items():
        if key in history:
            fig.add_scatter(
                x=history["step"],
                y=history[key],
                mode="lines+markers",
                name=label,
                connectgaps=True,  # boosting has ROC-AUC at sampled steps only
            )
    regression = "val_rmse" in history
    right, label = ("val_rmse", "validation RMSE") if regression else ("val_auc", "ROC-AUC")
    axis2 = {"title": label, "overlaying": "y", "side": "right"}
    if right in history:
        fig.add_scatter(
            x=history["step"],
            y=history[right],
            mode="lines+markers",
            name=label if regression else "validation ROC-AUC",
            yaxis="y2",
            line={"dash": "dot"},
            connectgaps=True,
        )
        values = history[right].dropna()
        if regression and len(values):
            axis2 |= nice_axis(float(values.min()), float(values.max()), zero=True)
    if not regression:
        axis2 |= nice_axis(0.4, 1.0, ticks=6)  # ROC-AUC from a little below chance to 1
    fig.update_layout(
        title=title,
        xaxis=epoch_axis(history["step"]),
        yaxis={"title": "loss (standardised target)" if regression else "log loss"},
        yaxis2=axis2,
        **_LAYOUT,
    )
    return fig


def _confusion_heatmap(cm, classes, title: str, cell_names=None) -> go.Figure:
    """Heatmap of a confusion matrix (rows true, columns predicted): colour = row rate,
    text = optional cell name, count and row rate."""
    cm = np.asarray(cm)
    rates = np.nan_to_num(row_rates(cm))  # a row without cases: 0
    k = len(classes)
    text = [
        [
            (f"{cell_names[i][j]}<br>" if cell_names else "")
            + f"{cm[i, j]:,}<br>{rates[i, j]:.1%} of row"
            for j in range(k)
        ]
        for i in range(k)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=rates,
            x=[f"predicted {plain(c)}" for c in classes],
            y=[f"true {plain(c)}" for c in classes],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 12 if k <= 4 else 9},  # readable in a half-width column
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "row rate"},
        )
    )
    fig.update_layout(title=title, **_LAYOUT)
    fig.update_yaxes(autorange="reversed")
    return fig


def confusion_matrix(cm: np.ndarray, labels: tuple[str, str], threshold: float) -> go.Figure:
    """Heatmap of a 2x2 confusion matrix with counts and row-normalised rates.

    Args:
        cm: int array of shape (2, 2), ``[[TN, FP], [FN, TP]]``.
        labels: display names of class 0 and class 1 (the positive class).
        threshold: the threshold used, for the title.
    """
    title = f"Confusion matrix at threshold {threshold:.3f}"
    return _confusion_heatmap(cm, labels, title, CELL_NAMES)


def pr_curve(recall: np.ndarray, precision: np.ndarray, ap: float, base_rate: float) -> go.Figure:
    """Precision-recall curve with its average precision and the positive base rate."""
    fig = go.Figure()
    fig.add_scatter(x=recall, y=precision, mode="lines", name=f"PR (AP = {ap:.3f})")
    fig.add_scatter(
        x=[0, 1],
        y=[base_rate, base_rate],
        mode="lines",
        name=f"base rate {base_rate:.2f}",
        line={"dash": "dash"},
    )
    fig.update_layout(
        title="Precision-recall curve (test split)",
        xaxis_title="recall (sensitivity)",
        yaxis_title="precision (PPV)",
        yaxis_range=[0, 1.02],
        **_LAYOUT,
    )
    return fig


def multiclass_confusion(cm: np.ndarray, classes: tuple[str, ...] | list[str]) -> go.Figure:
    """Heatmap of a k x k confusion matrix (rows true, columns predicted) with counts and
    row-normalised rates."""
    return _confusion_heatmap(
        cm, classes, "Confusion matrix (predicted class = highest probability)"
    )


def ovr_roc_curves(curves: list[tuple], classes: tuple[str, ...] | list[str]) -> go.Figure:
    """One-vs-rest ROC curve of each class, with its AUC in the legend."""
    named = {f"{name} vs rest": curve for curve, name in zip(curves, classes, strict=True)}
    return overlay_roc(named, "One-vs-rest ROC curves (test split)")


def image_sizes(sizes: list[tuple[int, int]], labels: list[str] | np.ndarray) -> go.Figure:
    """Histogram of the original size (longer side, pixels) of the images of each class,
    overlaid: a size that differs by class is a shortcut a model can learn."""
    frame = pd.DataFrame(sizes, columns=["width", "height"]).assign(label=list(labels))
    frame["side"] = frame[["width", "height"]].max(axis=1)
    fig = go.Figure()
    for label, part in frame.groupby("label"):
        fig.add_histogram(x=part["side"], name=plain(label), opacity=0.6, nbinsx=40)
    fig.update_layout(
        barmode="overlay",
        title="Original image size by class (longer side)",
        xaxis_title="pixels",
        yaxis_title="images",
        **_LAYOUT,
    )
    return fig


def counts_bar(counts: dict[str, int], title: str) -> go.Figure:
    """A bar chart of counts (class counts, image modes)."""
    names = [plain(k) for k in counts]
    fig = go.Figure(go.Bar(x=names, y=list(counts.values()), text=list(counts.values())))
    fig.update_layout(title=title, **_LAYOUT)
    return fig


def add_band(fig: go.Figure, x, lower, upper, name: str) -> None:
    """A shaded band between ``lower`` and ``upper`` over ``x`` (one legend entry)."""
    fig.add_scatter(
        x=x, y=upper, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
    )
    fig.add_scatter(
        x=x,
        y=lower,
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(99,110,250,0.2)",
        name=name,
    )


def roc_with_band(band: pd.DataFrame, auc: tuple[float, float, float], point=None) -> go.Figure:
    """ROC curve with its pointwise bootstrap band
    (:func:`finml.evaluation.bootstrap.roc_band`) and the AUC with its confidence interval
    ``(auc, lower, upper)`` in the legend."""
    fig = go.Figure()
    add_band(fig, band["fpr"], band["lower"], band["upper"], "95% band")
    fig.add_scatter(
        x=band["fpr"],
        y=band["tpr"],
        mode="lines",
        name=f"ROC (AUC {auc[0]:.3f}, 95% CI {auc[1]:.3f}-{auc[2]:.3f})",
    )
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dash"})
    if point is not None:
        fig.add_scatter(
            x=[point[0]], y=[point[1]], mode="markers", name="threshold", marker={"size": 12}
        )
    fig.update_layout(
        title="ROC curve (test split)",
        xaxis_title="false-positive rate",
        yaxis_title="true-positive rate (sensitivity)",
        height=_legend_height(4),
        **_LAYOUT,
    )
    return fig


def cost_curve(curve: pd.DataFrame, chosen: float, best: float) -> go.Figure:
    """Expected cost per case against the threshold (a step at every distinct score, from
    :func:`finml.evaluation.thresholds.expected_cost_curve`), with the chosen and the
    cost-minimising thresholds marked: "chosen" labelled at the top, "minimum (validation)"
    at the bottom (each on the roomier side of its line), so the two labels never overlap
    however close the thresholds are (one label when they are the same)."""
    ordered = curve.sort_values("threshold")
    fig = go.Figure()
    fig.add_scatter(
        x=ordered["threshold"],
        y=ordered["cost"],
        mode="lines",
        line_shape="vh",  # the cost at a score holds for thresholds down to the next score
        name="expected cost",
        showlegend=False,
    )

    def side(x: float) -> str:  # the label on the roomier side of its line
        return "right" if x < 0.5 else "left"

    if abs(chosen - best) < 5e-4:
        fig.add_vline(
            x=best,
            line_dash="dash",
            annotation_text="chosen = minimum (validation)",
            annotation_position=f"top {side(best)}",
        )
    else:
        fig.add_vline(
            x=chosen,
            line_dash="dot",
            annotation_text="chosen",
            annotation_position=f"top {side(chosen)}",
        )
        fig.add_vline(
            x=best,
            line_dash="dash",
            annotation_text="minimum (validation)",
            annotation_position=f"bottom {side(best)}",
        )
    fig.update_layout(
        title="Expected cost per case (test split)",
        xaxis={"title": "threshold", "range": [0, 1]},
        yaxis_title="cost per case",
        **_LAYOUT,
    )
    return fig


def ks_plot(curve: pd.DataFrame) -> go.Figure:
    """Cumulative bads and goods by score (highest first) and the KS gap."""
    i = int(curve["gap"].idxmax())
    fig = go.Figure()
    fig.add_scatter(x=curve["score"], y=curve["cum_bad"], mode="lines", name="cumulative bad")
    fig.add_scatter(x=curve["score"], y=curve["cum_good"], mode="lines", name="cumulative good")
    fig.add_scatter(
        x=[curve["score"][i]] * 2,
        y=[curve["cum_good"][i], curve["cum_bad"][i]],
        mode="lines+markers",
        name=f"KS = {curve['gap'][i]:.3f}",
    )
    fig.update_layout(
        title="KS plot (test split)",
        xaxis_title="score (cut-off)",
        yaxis_title="cumulative share",
        xaxis_autorange="reversed",
        **_LAYOUT,
    )
    return fig


def gains_chart(table: pd.DataFrame) -> go.Figure:
    """Cumulative gains (events captured, left axis 0-100 % by 20) and lift by decile
    (right axis from 0 in five round steps, so its grid lines meet the left axis's)."""
    fig = go.Figure()
    fig.add_bar(x=table["decile"], y=table["lift"], name="lift", yaxis="y2", opacity=0.5)
    fig.add_scatter(
        x=table["decile"],
        y=table["cumulative events %"],
        mode="lines+markers",
        name="cumulative events %",
    )
    top = float(table["lift"].max()) if len(table) else 1.0
    lift_axis = nice_axis(0.0, top if top > 0 else 1.0, ticks=5, zero=True)
    step = lift_axis["dtick"]
    lift_axis["range"] = [0, 5 * step * 1.05]  # five steps of the lift = 0-100 % on the left
    fig.update_layout(
        title="Cumulative gains and lift by decile (1 = highest scores)",
        xaxis={"title": "decile", "tickmode": "linear", "tick0": 1, "dtick": 1},
        yaxis={"title": "% of events", "range": [0, 105], "tickmode": "linear", "dtick": 20},
        yaxis2={"title": "lift", "overlaying": "y", "side": "right", **lift_axis},
        **_LAYOUT,
    )
    return fig


def calibration_plot(table: pd.DataFrame, brier: float, hl: dict) -> go.Figure:
    """Observed event rate against mean predicted probability, with the diagonal."""
    fig = go.Figure()
    fig.add_scatter(x=table["predicted"], y=table["observed"], mode="lines+markers", name="model")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dash"})
    fig.update_layout(
        title=f"Calibration: Brier {brier:.3f}, Hosmer-Lemeshow p = {hl['p_value']:.3f}",
        xaxis_title="mean predicted probability",
        yaxis_title="observed event rate",
        **_LAYOUT,
    )
    return fig


def score_distribution(y: np.ndarray, score: np.ndarray, labels: tuple[str, str]) -> go.Figure:
    """Histogram of the scores of each class, overlaid."""
    fig = go.Figure()
    for value, name in enumerate(labels):
        fig.add_histogram(x=score[y == value], name=plain(name), opacity=0.6, nbinsx=30)
    fig.update_layout(
        barmode="overlay",
        title="Score distribution by class (test split)",
        xaxis_title="score",
        yaxis_title="rows",
        **_LAYOUT,
    )
    return fig


def adverse_impact(table: pd.DataFrame, name: str) -> go.Figure:
    """Adverse impact ratio of each group with its 95% interval, and the four-fifths line.

    Args:
        table: :func:`finml.evaluation.fairness.fairness_table`'s table.
        name: the protected attribute.
    """
    labels = [legend_name(g, 24, 2) for g in table["group"]]
    air = table["adverse impact ratio"]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=air,
            name="adverse impact ratio",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (table["AIR upper"] - air).clip(lower=0),
                "arrayminus": (air - table["AIR lower"]).clip(lower=0),
            },
            customdata=np.column_stack([table["approval rate"], table["applicants"]]),
            hovertemplate="AIR %{y:.2f}<br>approval rate %{customdata[0]:.1%}<br>"
            "%{customdata[1]:,} applicants<extra></extra>",
        )
    )
    fig.add_hline(y=0.8, line_dash="dash", annotation_text="four-fifths (0.8)")
    fig.update_layout(
        title=f"Adverse impact ratio by {plain(name)} (test split)",
        yaxis={"title": "approval rate / most favoured group's", "rangemode": "tozero"},
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def bin_event_rates(table: pd.DataFrame, name: str, event: str) -> go.Figure:
    """A scorecard characteristic's bins: bars of the event rate per bin (training split),
    the bin's share of rows in the hover text, WoE on a second axis.

    Args:
        table: :func:`finml.reporting.scorecard.bins_table` of the characteristic.
        name: the characteristic.
        event: the positive class, in words (``"bad"``).
    """
    labels = [legend_name(b, 24, 2) for b in table["bin"]]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=table["event rate"],
            name=f"{plain(event)} rate",
            customdata=np.column_stack([table["count"], table["share"]]),
            hovertemplate="%{y:.1%} " + plain(event) + "<br>%{customdata[0]:,} rows "
            "(%{customdata[1]:.1%})<extra></extra>",
        )
    )
    fig.add_scatter(x=labels, y=table["WoE"], name="WoE", yaxis="y2", mode="lines+markers")
    fig.update_layout(
        title=f"{plain(name)}: {plain(event)} rate and WoE by bin (training split)",
        yaxis={"title": f"{plain(event)} rate", "tickformat": ".0%", "rangemode": "tozero"},
        yaxis2={"title": "WoE", "overlaying": "y", "side": "right", "zeroline": False},
        **{**_LAYOUT, "margin": {"l": 50, "r": 50, "t": 50, "b": 50}},
    )
    return fig


def importance_bar(table: pd.DataFrame, top: int = 15, score: str = "ROC-AUC") -> go.Figure:
    """Horizontal bars of permutation importance (mean drop of ROC-AUC, with its std; for a
    regression run ``score="RMSE"`` and the bars are the rise of the RMSE)."""
    part = table.head(top).iloc[::-1]
    change = "rise" if score == "RMSE" else "drop"
    fig = go.Figure(
        go.Bar(
            x=part["importance"],
            y=[plain(f) for f in part["feature"]],
            orientation="h",
            error_x={"type": "data", "array": part["std"]},
        )
    )
    fig.update_layout(
        title=f"Permutation importance (validation split): {change} of {score}",
        xaxis_title=f"{score} {change} when the column is shuffled",
        **_LAYOUT,
    )
    return fig


def _legend_height(entries: int) -> int:
    """Figure height that leaves the plot its room when ``entries`` legend entries (up to
    two lines each) sit below it."""
    return min(420 + 24 * entries, 900)


def overlay_roc(
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str = "ROC curves (test split)"
) -> go.Figure:
    """Several ROC curves (runs, or classes one-vs-rest): {label: (fpr, tpr, auc)}; the
    legend sits below the plot, long labels wrapped and cut short (:func:`legend_name`)
    with the full label in the hover text."""
    fig = go.Figure()
    for label, (fpr, tpr, auc) in curves.items():
        fig.add_scatter(
            x=fpr,
            y=tpr,
            mode="lines",
            name=f"{legend_name(label)} (AUC = {auc:.3f})",
            hovertemplate=f"{plain(label)}<br>FPR %{{x:.3f}}, TPR %{{y:.3f}}<extra></extra>",
        )
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dash"})
    fig.update_layout(
        title=title,
        xaxis_title="false-positive rate",
        yaxis_title="true-positive rate (sensitivity)",
        height=_legend_height(len(curves) + 1),
        **_LAYOUT,
    )
    return fig


def overlay_learning(histories: dict[str, pd.DataFrame], key: str = "val_loss") -> go.Figure:
    """One per-epoch metric (default validation loss) of several runs, over whole-number
    epochs; a run whose history has fewer than :data:`MIN_CURVE_STEPS` steps (a one-shot
    fit) is left out (pages say which, :func:`one_shot_runs`). Legend below, names wrapped."""
    fig = go.Figure()
    steps = []
    shown = 0
    for label, history in histories.items():
        if key in history and has_learning_curve(history[["step", key]]):
            shown += 1
            steps.extend(history["step"].tolist())
            fig.add_scatter(
                x=history["step"],
                y=history[key],
                mode="lines+markers",
                name=legend_name(label),
                hovertemplate=f"{plain(label)}<br>step %{{x}}: %{{y:.4g}}<extra></extra>",
            )
    fig.update_layout(
        title=f"Learning curves: {key}",
        xaxis=epoch_axis(steps),
        showlegend=True,  # which run, even when one is drawn
        height=_legend_height(shown),
        **_LAYOUT,
    )
    return fig


def one_shot_runs(histories: dict[str, pd.DataFrame], key: str = "val_loss") -> list[str]:
    """The labels of ``histories`` with no learning curve of ``key`` (fewer than
    :data:`MIN_CURVE_STEPS` steps: fitted in one go, or not logged)."""
    return [
        label
        for label, history in histories.items()
        if key not in history or not has_learning_curve(history[["step", key]])
    ]


def shap_beeswarm(values: pd.DataFrame, features: pd.DataFrame | None, top: int = 12) -> go.Figure:
    """SHAP summary: one dot per row and feature at its contribution (log-odds), features
    ordered by mean |SHAP|, dots coloured by the feature's value (its percentile among the
    shown rows; numeric features only, grey otherwise), jittered within each feature's row.

    Args:
        values: contributions, one column per feature, shape (n, k).
        features: the same rows' feature values (same columns), or ``None`` (no colour).
        top: features shown.
    """
    order = values.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(0)
    fig = go.Figure()
    scale_shown = False
    for i, name in enumerate(order):
        v = values[name].to_numpy()
        colour = None
        if features is not None and pd.api.types.is_numeric_dtype(features[name]):
            colour = features[name].rank(pct=True).to_numpy()
        show_scale = colour is not None and not scale_shown
        scale_shown = scale_shown or show_scale
        fig.add_scatter(
            x=v,
            y=i + rng.uniform(-0.3, 0.3, len(v)),
            mode="markers",
            name=plain(name),
            showlegend=False,
            marker={
                "size": 5,
                "color": colour if colour is not None else "#9e9e9e",
                "colorscale": "RdBu_r",
                "cmin": 0,
                "cmax": 1,
                "showscale": show_scale,
                "colorbar": {
                    "title": "value (percentile)",
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                },
            },
            hovertemplate="%{x:.3f}<extra>" + plain(name) + "</extra>",
        )
    fig.add_vline(x=0, line={"color": "#555", "width": 1})
    fig.update_layout(
        title="SHAP summary (validation rows): contribution to the log-odds of the positive class",
        xaxis_title="SHAP value (log-odds); > 0 raised the score",
        yaxis={"tickvals": list(range(len(order))), "ticktext": [plain(n) for n in order]},
        height=max(320, 28 * len(order) + 120),
        **_LAYOUT,
    )
    return fig
