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

#: Columns a demo leaves out of the default features (known only after the outcome).
LEAVE_OUT = {"German Credit: loan amount (regression)": ("creditability",)}


def demo_bytes(name: str) -> bytes:
    """Return the raw file of demo ``name`` (so it goes through the same reader as uploads).

    Raises:
        KeyError: no such demo.
    """
    filename = DEMOS[name][0]
    return resources.files("finml.data.builtin").joinpath(filename).read_bytes()


def demo_frame(name: str) -> pd.DataFrame:
    """Return demo ``name`` as a DataFrame (read by :func:`finml.data.reader.read_table`)."""
    from finml.data.reader import read_table

    return read_table(demo_bytes(name), DEMOS[name][0]).frame
