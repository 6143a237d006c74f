"""What the Predict views share: the uploaded table of new rows, the record of each
upload scored, the CSV download of a result and the interval level of a model with
prediction intervals."""

from __future__ import annotations

import hashlib

import streamlit as st

from finml.config import get_settings
from finml.data.reader import read_table
from finml.reporting.exports import to_csv_bytes
from pages import common

#: File types Predict accepts for a table (new rows, or a forecast's history).
TABLE_TYPES = ["csv", "txt", "tsv", "xlsx", "parquet"]


def uploaded_rows():
    """The uploaded table of new rows, read with the Data page's reader and limits (stops
    the script until there is one, or with the reader's message)."""
    up = st.file_uploader("New rows (CSV, Excel or Parquet)", type=TABLE_TYPES, key="rows")
    if up is None:
        st.stop()
    limits = get_settings().read_limits()
    frame = common.or_stop(read_table, up.getvalue(), up.name, **limits).frame
    scored_once(up.file_id, [up.getvalue()], rows=len(frame))
    return frame


def csv_download(run, table, file_name: str) -> None:
    """The "Download as CSV" button of a results table (spreadsheet formulas neutralised,
    the download recorded in the audit trail)."""
    common.download(
        st, "Download as CSV", to_csv_bytes(table), file_name, "text/csv", "csv", run.run_id
    )


def scored_once(file_key, contents: list[bytes], **shape) -> None:
    """Record in the audit trail, once per upload and model, that this user scored it
    (the files' hash and the shape, never their content)."""
    key = (st.session_state.get("predict_run"), str(file_key))
    done = st.session_state.setdefault("_scored", set())
    if key in done:
        return
    digest = hashlib.sha256()
    for content in contents:
        digest.update(hashlib.sha256(content).digest())
    common.record("score", key[0] or "", sha256=digest.hexdigest(), **shape)
    done.add(key)


def interval_level(model) -> str:
    """The interval level to show (a slider over the levels the model carries, 90% when it
    has one); stops the page with a message if the model carries none."""
    levels = sorted(model.intervals or {}, key=float)
    if not levels:
        common.show_error("This model carries no prediction intervals; train it again.")
        st.stop()
    return st.select_slider(
        "Prediction interval (split-conformal, calibrated on the validation split)",
        levels,
        value="0.9" if "0.9" in levels else levels[-1],
        format_func=lambda v: f"{float(v):.0%}",
        key="interval_level",
    )


def predicted(what: str, predict, model, frame, *args):
    """``predict(model, frame, *args)`` (a table and messages) under a spinner saying
    ``what`` it does, its messages shown as warnings; returns the table (a finml error's
    message stops the script)."""
    with st.spinner(f"{what} and explaining (SHAP)..."):
        table, messages = common.or_stop(predict, model, frame, *args)
    for message in messages:
        common.show_warning(message)
    return table


def results(
    run, model, frame, table, file_name: str, score: str, note: str, shown=None, column_config=None
) -> None:
    """The results ``table`` (or ``shown``, a copy rounded for display, with
    ``column_config``) and its CSV download (``file_name``, full precision), then the
    population stability of the new rows (each feature, and column ``score``) against the
    training split, with ``note`` on the score and the reasons."""
    from finml.evaluation import drift

    shown = table if shown is None else shown
    probabilities = {  # stored to 4 decimals: shown with all four (0.1200, not 0.12)
        c: st.column_config.NumberColumn(format="%.4f")
        for c in shown.columns
        if c == "score" or str(c).startswith("p(")
    }
    column_config = {**probabilities, **(column_config or {})}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=column_config)
    csv_download(run, table, file_name)
    st.subheader("Population stability (PSI) against the training split")
    stability = drift.psi_table(model.profile, frame, table[score].to_numpy())
    if (stability["band"] == drift.TOO_FEW).any():
        common.show_info(
            f"{int(stability['rows'].min()):,} new row(s): too few to judge drift. Below "
            f"{drift.MIN_ROWS} rows PSI is mostly noise (unchanged data often reads as a "
            "shift), so no band is given there; upload more rows to check stability."
        )
    st.dataframe(
        stability,
        hide_index=True,
        width="stretch",
        column_config={  # narrow numbers, so a long variable name stays readable at 1024 px
            "PSI": st.column_config.NumberColumn(format="%.3f", width=70),
            "rows": st.column_config.NumberColumn(format="localized", width=70),
            "p-value": st.column_config.NumberColumn(format="%.3f", width=75),
            "band": st.column_config.TextColumn(width=140),
        },
    )
    st.caption(
        f"{note} Bands: < 0.1 stable, 0.1 to 0.25 moderate shift, > 0.25 major shift, given "
        f"only from {drift.MIN_ROWS} rows and only where the chi-square test of the binned "
        f"counts against the training split rejects 'no shift' at {drift.ALPHA:.0%} "
        "(p-value, Bonferroni over the variables); otherwise 'stable', however large the "
        "PSI. PSI's noise grows as rows shrink (Yurdakul 2018)."
    )
