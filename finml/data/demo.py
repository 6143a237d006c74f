"""Built-in demo datasets shipped with finml."""

from __future__ import annotations

from importlib import resources

import pandas as pd

#: Name -> (file in finml/data/builtin, target, positive class ("" for a numeric target),
#: description).
DEMOS = {
    "German Credit (Statlog)": (
        "german_credit.csv",
        "creditability",
        "bad",
        "1,000 loan applicants, 20 attributes, target creditability (good 700 / bad 300). "
        "Source: UCI Statlog (German Credit Data), Hofmann 1994, CC BY 4.0. Statlog cost "
        "matrix: accepting a bad applicant costs 5, refusing a good one costs 1.",
    ),
    "German Credit: loan amount (regression)": (
        "german_credit.csv",
        "credit_amount",
        "",
        "The same 1,000 applicants; predict the credit amount (DM, 250 to 18,424, skewed) "
        "from the other attributes. A regression demo: the amount an applicant asks for "
        "follows the loan's duration and purpose. Leave creditability out of the features: "
        "it is known only after the loan. Source: UCI Statlog German Credit, CC BY 4.0.",
    ),
}

#: Demos read from a registry package rather than a file: name -> (loader, target,
#: description). The loader (a function of this module) returns the table; it goes through
#: the same reader as uploads.
PACKAGED = {
    "US macroeconomic series (forecasting)": (
        "macro_frame",
        "realcons",
        "US quarterly macroeconomic data 1959 Q1 to 2009 Q3 (203 quarters): real GDP, "
        "consumption, investment, inflation, unemployment, ... Forecast real personal "
        "consumption (billions of chained 2005 dollars) one quarter ahead. Source: the "
        "statsmodels package (statsmodels.datasets.macrodata; U.S. Bureau of Economic "
        "Analysis, Bureau of Labor Statistics and Federal Reserve data, public domain).",
    ),
    "US macroeconomic panel (forecasting per series)": (
        "macro_panel_frame",
        "value",
        "The same quarters as a panel of five series in long form (one row per series and "
        "quarter): real GDP, consumption, investment, government spending and disposable "
        "income, billions of chained 2005 dollars, of very different sizes. One global model "
        "forecasts each of them one quarter ahead, each in units of its own typical change. "
        "Source: statsmodels.datasets.macrodata (public domain).",
    ),
}

#: The task each demo opens with (on its own target), whatever the table shown before it.
DEMO_TASKS = {
    "German Credit (Statlog)": "binary",
    "German Credit: loan amount (regression)": "regression",
    **{name: "forecast" for name in PACKAGED},
}
#: The unit of a demo's numeric target, shown with its amounts (``2,179 DM``).
DEMO_UNITS = {"German Credit: loan amount (regression)": "DM"}
#: Date column, horizon and entity column ("" for one series) a forecasting demo opens with.
DEMO_SERIES = {
    "US macroeconomic series (forecasting)": ("date", 1, ""),
    "US macroeconomic panel (forecasting per series)": ("date", 1, "series"),
}

#: The series of the panel demo (macrodata's real aggregates).
PANEL_SERIES = ("realgdp", "realcons", "realinv", "realgovt", "realdpi")


def demo_names() -> list[str]:
    """Every built-in demo, files first, then those read from registry packages."""
    return [*DEMOS, *PACKAGED]


def demo_about(name: str) -> tuple[str, str, str]:
    """(file name for the reader, target, description) of demo ``name``.

    Raises:
        KeyError: no such demo.
    """
    if name in PACKAGED:
        return f"{PACKAGED[name][0]}.csv", PACKAGED[name][1], PACKAGED[name][2]
    filename, target, _, about = DEMOS[name]
    return filename, target, about


#: Columns a demo leaves out of the default features (known only after the outcome).
LEAVE_OUT = {"German Credit: loan amount (regression)": ("creditability",)}


def demo_bytes(name: str) -> bytes:
    """Return the raw file of demo ``name`` (so it goes through the same reader as uploads).

    Raises:
        KeyError: no such demo.
    """
    if name in PACKAGED:
        return globals()[PACKAGED[name][0]]().to_csv(index=False).encode()
    filename = DEMOS[name][0]
    return resources.files("finml.data.builtin").joinpath(filename).read_bytes()


def macro_frame() -> pd.DataFrame:
    """The statsmodels US macro series with a ``date`` column (the quarter's first day)
    in front of its 14 columns (year and quarter kept)."""
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    quarters = pd.PeriodIndex.from_fields(
        year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q"
    )
    return pd.concat(
        [pd.DataFrame({"date": quarters.to_timestamp().strftime("%Y-%m-%d")}), data], axis=1
    )


def macro_panel_frame() -> pd.DataFrame:
    """The panel demo: :data:`PANEL_SERIES` of :func:`macro_frame` in long form, columns
    ``date``, ``series``, ``value`` (5 x 203 rows)."""
    wide = macro_frame()[["date", *PANEL_SERIES]]
    return wide.melt(id_vars="date", var_name="series", value_name="value")


def demo_frame(name: str) -> pd.DataFrame:
    """Return demo ``name`` as a DataFrame (read by :func:`finml.data.reader.read_table`)."""
    from finml.data.reader import read_table

    return read_table(demo_bytes(name), demo_about(name)[0]).frame
