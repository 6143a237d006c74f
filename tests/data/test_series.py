"""The words and labels of a series' dates: frequencies, periods, the recent window."""

from __future__ import annotations

import pandas as pd
import pytest

from finml.data.series import frequency_words, infer_frequency, period_labels, recent_start


@pytest.mark.parametrize(
    ("freq", "words"),
    [
        ("QS-JAN", "quarterly (starting January)"),
        ("QE-DEC", "quarterly (ending December)"),
        ("2QS-JAN", "every 2 quarters (starting January)"),
        ("MS", "monthly (month starts)"),
        ("ME", "monthly (month ends)"),
        ("W-SUN", "weekly (Sundays)"),
        ("D", "daily"),
        ("B", "business-daily"),
        ("h", "hourly"),
        ("YS-JAN", "yearly (starting January)"),
        ("", "unknown"),
    ],
)
def test_a_frequency_in_words(freq, words):
    assert frequency_words(freq) == words


@pytest.mark.parametrize(
    ("start", "freq", "labels"),
    [
        ("2009-07-01", "QS-JAN", ["2009 Q3", "2009 Q4", "2010 Q1"]),
        ("2009-09-30", "QE-DEC", ["2009 Q3", "2009 Q4", "2010 Q1"]),
        ("2009-11-01", "MS", ["2009-11", "2009-12", "2010-01"]),
        ("2009-12-30", "D", ["2009-12-30", "2009-12-31", "2010-01-01"]),
        ("2009-12-31 22:00", "h", ["2009-12-31 22:00", "2009-12-31 23:00", "2010-01-01 00:00"]),
        ("2007-01-01", "YS-JAN", ["2007", "2008", "2009"]),
    ],
)
def test_dates_read_as_the_periods_they_stand_for(start, freq, labels):
    dates = pd.date_range(start, periods=3, freq=freq)
    assert period_labels(dates, freq) == labels
    assert period_labels(dates) == labels  # the frequency inferred from the dates


def test_a_panel_s_repeated_dates_infer_their_frequency():
    dates = pd.date_range("2000-01-01", periods=4, freq="QS")
    assert infer_frequency(list(dates) * 3) == "QS-JAN"
    assert period_labels(list(dates) * 2)[:4] == ["2000 Q1", "2000 Q2", "2000 Q3", "2000 Q4"]
    assert infer_frequency(dates[:2]) == ""


def test_a_long_history_opens_on_its_last_seasons():
    quarters = pd.date_range("1959-01-01", periods=200, freq="QS")
    assert recent_start(quarters, 4) == quarters[-20]  # five years
    months = pd.date_range("1959-01-01", periods=600, freq="MS")
    assert recent_start(months, 12) == months[-60]
    assert recent_start(quarters[:20], 4) is None  # short enough to show whole
    assert recent_start(pd.date_range("2000", periods=50, freq="YS"), 1) is not None
