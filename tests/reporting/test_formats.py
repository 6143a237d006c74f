"""One formatter per kind of number: amounts, rates, metrics, counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finml.reporting import formats


def test_amounts_have_thousands_separators_and_one_precision():
    assert formats.amount(2178.5186) == "2,179"
    assert formats.amount(3.017e6, "DM") == "3,017,000 DM"
    assert formats.amount(-757.8, signed=True) == "-758"
    assert formats.amount(757.8, signed=True) == "+758"
    assert formats.amount(12.345) == "12.35" and formats.amount(0.01234) == "0.0123"
    assert formats.amount(0) == "0" and formats.amount(np.nan) == "–"
    np.testing.assert_array_equal(
        formats.round_amounts([1737.4, 2672.6, 0.4], [2000.0]), [1737.0, 2673.0, 0.0]
    )


def test_rates_metrics_and_counts():
    assert formats.rate(0.905) == "90.5%" and formats.rate(0.9, 0) == "90%"
    assert formats.metric(0.81234) == "0.812" and formats.count(1234.0) == "1,234"
    assert formats.metric_text("test_rmse", 2178.5186) == "2,179"
    assert formats.metric_text("test_roc_auc", 0.78912) == "0.789"
    assert formats.metric_text("test_mape", 45.67) == "45.7%"


def test_the_regression_metric_table_has_no_scientific_notation():
    values = {"rmse": 2178.5186, "mse": 3.017e6, "mae": 1500.25, "r2": 0.4123, "mape": 45.6}
    cis = pd.DataFrame(
        {
            "lower": [1737.2, 3.0e6, 1400.0, 0.35, 40.0],
            "upper": [2672.4, 3.5e6, 1600.0, 0.46, 50.0],
        },
        index=["rmse", "mse", "mae", "r2", "mape"],
    )
    table = formats.regression_metric_table(values, cis, "DM").set_index("metric")
    assert table.loc["RMSE", "value"] == "2,179 DM"
    assert table.loc["RMSE", "95% CI"] == "1,737 – 2,672 DM"
    assert table.loc["MSE", "value"] == "3,017,000 DM²"
    assert table.loc["R²", "value"] == "0.412" and table.loc["R²", "95% CI"] == "0.350 – 0.460"
    assert table.loc["MAPE", "value"] == "45.6%"
    assert not table.apply(lambda c: c.str.contains("e+", regex=False)).any().any()


def test_the_confusion_table_names_counts_and_row_rates_each_cell():
    from finml.evaluation.metrics import confusion

    y = np.array([0] * 900 + [1] * 1234)
    score = np.r_[np.full(800, 0.1), np.full(100, 0.9), np.full(234, 0.2), np.full(1000, 0.8)]
    cm = confusion(y, score, 0.5)  # TN 800, FP 100, FN 234, TP 1,000
    table = formats.confusion_table(cm, ["good", "bad"])
    assert list(table.index) == ["true good", "true bad"]
    assert list(table.columns) == ["predicted good", "predicted bad"]
    assert table.to_numpy().tolist() == [
        ["TN 800 · 88.9%", "FP 100 · 11.1%"],
        ["FN 234 · 19.0%", "TP 1,000 · 81.0%"],
    ]


def test_a_confusion_row_without_cases_has_counts_but_no_rate():
    cm = np.array([[0, 0, 0], [3, 1, 0], [0, 2, 2]])  # k classes: no cell names
    table = formats.confusion_table(cm, ["a", "b", "c"])
    assert table.iloc[0].tolist() == ["0", "0", "0"]
    assert table.iloc[1].tolist() == ["3 · 75.0%", "1 · 25.0%", "0 · 0.0%"]


def test_a_markdown_table_keeps_its_cells_with_pipes_line_breaks_and_backslashes():
    frame = pd.DataFrame(
        {"value": ["a|b", "line\nbreak", "already \\| escaped", "a backslash \\\\|"]},
        index=pd.Index(["x", "y", "z", "w"], name="metric"),
    )
    text = formats.markdown_table(frame)
    lines = text.splitlines()
    assert lines[:2] == ["| metric | value |", "|---|---|"] and len(lines) == 6
    assert lines[2] == "| x | a\\|b |" and lines[3] == "| y | line break |"
    assert lines[4] == "| z | already \\| escaped |"  # not escaped twice
    # an escaped backslash before a pipe: the pipe is still bare, so it is escaped
    assert lines[5] == "| w | a backslash \\\\\\| |"
    unnamed = formats.markdown_table(pd.DataFrame({"c": [1]}, index=["r"]))
    assert unnamed.splitlines()[0] == "|  | c |" and unnamed.splitlines()[2] == "| r | 1 |"
    assert formats.markdown_table(frame, index=False).splitlines()[0] == "| value |"
