"""The words and labels of a series' dates: frequencies, periods, the recent window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finml.data.series import (
    default_season,
    fourier_terms,
    frequency_words,
    infer_frequency,
    period_labels,
    recent_start,
    season_phase,
    windows,
)


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


@pytest.mark.parametrize(
    ("start", "freq", "season", "expected"),
    [
        ("2020-11-01", "MS", 12, [10, 11, 0, 1]),  # month of the year, January 0
        ("2020-11-30", "ME", 12, [10, 11, 0, 1]),
        ("2020-10-01", "QS-OCT", 4, [3, 0, 1, 2]),  # calendar quarter, whatever the anchor
        ("2021-01-04", "D", 7, [4, 5, 6, 0]),  # Monday 4 January 2021: 1970-01-01 + 18631
        ("2021-01-04", "B", 5, [2, 3, 4, 0]),
        ("2021-01-01 22:00", "h", 24, [22, 23, 0, 1]),
        ("2020-01-01", "2MS", 6, [0, 1, 2, 3]),  # every other month: a season of a year
        ("2020-01-01", "YS", 1, [0, 0, 0, 0]),
    ],
)
def test_the_season_phase_comes_from_the_calendar(start, freq, season, expected):
    dates = pd.date_range(start, periods=4, freq=freq)
    assert season_phase(dates, freq, season).tolist() == expected
    # the same dates later in a history (a Predict upload) keep their phases
    longer = pd.date_range(pd.Timestamp(start) - 7 * dates.freq, periods=11, freq=freq)
    assert season_phase(longer, freq, season)[-4:].tolist() == expected


def test_the_season_phase_reads_wall_clock_dates_of_any_time_zone():
    naive = pd.date_range("2019-03-25", periods=10, freq="D")
    for freq, season in (("D", 7), ("W-SUN", 52), ("B", 5)):
        dates = pd.date_range("2019-03-25", periods=10, freq=freq)
        berlin = dates.tz_localize("Europe/Berlin")  # across the change to summer time
        assert (
            season_phase(berlin, freq, season).tolist()
            == season_phase(dates, freq, season).tolist()
        )
    assert season_phase(naive, "D", 7).tolist() == [4, 5, 6, 0, 1, 2, 3, 4, 5, 6]  # Thursday 0


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        *[("MS", 12), ("ME", 12), ("BMS", 12), ("QS-OCT", 4), ("BQE-DEC", 4), ("2MS", 6)],
        *[("3ME", 4), ("W-SUN", 52), ("D", 7), ("B", 5), ("h", 24), ("2h", 12), ("5D", 1)],
        *[("YS", 1), ("", 1)],
    ],
)
def test_the_default_season_follows_the_frequency_and_its_multiple(freq, season):
    assert default_season(freq) == season


def test_the_season_phase_needs_a_frequency():
    with pytest.raises(ValueError, match="Cannot place the dates in a season"):
        season_phase(pd.DatetimeIndex(["2020-01-01", "2020-01-03"]), "", 12)


def test_fourier_terms_span_the_seasonal_dummies_and_are_bounded():
    phase = np.arange(36) % 12
    full = fourier_terms(phase, 12, 6)
    assert full.shape == (36, 11)  # the sine at j = 6 is zero everywhere: left out
    # with the constant they span the 12 month dummies
    dummies = np.eye(12)[phase]
    basis = np.column_stack([np.ones(36), full])
    coef, *_ = np.linalg.lstsq(basis, dummies, rcond=None)
    np.testing.assert_allclose(basis @ coef, dummies, atol=1e-9)
    assert fourier_terms(phase, 12, 2).shape == (36, 4)
    assert fourier_terms(phase, 12, 0).shape == (36, 0)
    assert fourier_terms(np.arange(8) % 4, 4, 2).shape == (8, 3)
    with pytest.raises(ValueError, match="7 Fourier pairs do not fit a season of 12"):
        fourier_terms(phase, 12, 7)


def test_windows_end_with_the_origins_fourier_terms_for_every_entity():
    y = np.arange(40, dtype=np.float64).reshape(2, 20) ** 1.5
    terms = fourier_terms(np.arange(20) % 4, 4, 1)
    origins = np.array([5, 6, 9])
    plain, targets = windows(y, origins, 3, 2)
    x, same = windows(y, origins, 3, 2, fourier=terms)
    assert x.shape == (6, 3 + 2)
    np.testing.assert_array_equal(x[:, :3], plain)
    np.testing.assert_array_equal(x[:, 3:], np.tile(terms[origins], (2, 1)))
    np.testing.assert_array_equal(same, targets)
