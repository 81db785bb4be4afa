"""The ops view's rates and its "lag keeps growing" banner, decided from offset samples."""

from dashboard.trend import Rates, Sample, lag_alert, lag_growth_seconds, rates

GAP = 5.0


def lags(*points: tuple[float, int]) -> list[Sample]:
    return [Sample(at, 0, 0, lag) for at, lag in points]


def test_lag_rising_for_more_than_ten_seconds_raises_the_banner() -> None:
    history = lags((0, 5), (2, 8), (4, 8), (6, 12), (8, 15), (10, 20), (12, 21))
    assert lag_growth_seconds(history, GAP) == 12
    assert lag_alert(history, 10, GAP)


def test_ten_seconds_exactly_is_not_more_than_ten() -> None:
    history = lags((0, 1), (5, 2), (10, 3))
    assert lag_growth_seconds(history, GAP) == 10
    assert not lag_alert(history, 10, GAP)


def test_a_fall_restarts_the_clock() -> None:
    history = lags((0, 5), (2, 9), (4, 14), (6, 3), (8, 7), (10, 9))
    assert lag_growth_seconds(history, GAP) == 4
    assert not lag_alert(history, 10, GAP)


def test_a_flat_stretch_before_the_rise_does_not_count() -> None:
    # Lag 0 for a minute, then one jump: growing for 2 s, not 62.
    history = lags(*[(t, 0) for t in range(0, 62, 2)], (62, 100))
    assert lag_growth_seconds(history, GAP) == 2
    assert not lag_alert(history, 10, GAP)


def test_flat_or_idle_lag_is_not_growth() -> None:
    assert lag_growth_seconds(lags((0, 40), (2, 40), (20, 40)), GAP) == 0
    assert lag_growth_seconds(lags((0, 0), (30, 0)), GAP) == 0
    assert lag_growth_seconds(lags((0, 7)), GAP) == 0
    assert lag_growth_seconds([], GAP) == 0


def test_a_gap_in_sampling_breaks_the_run() -> None:
    # Nobody watched between 4 s and 40 s: only what follows the gap counts.
    history = lags((0, 1), (2, 2), (4, 3), (40, 50), (42, 51))
    assert lag_growth_seconds(history, GAP) == 2


def test_rates_in_and_out_over_the_window() -> None:
    history = [
        Sample(0.0, 1000, 900, 100),
        Sample(5.0, 1500, 1200, 300),
        Sample(10.0, 2000, 1900, 100),
        Sample(12.0, 2400, 2300, 100),
    ]
    # The window reaches back to the sample at 5 s (12 - 5 <= 10).
    assert rates(history, 10) == Rates(128.57, 157.14)  # 900 and 1100 events in 7 s
    assert rates(history, 1) == Rates(200.0, 200.0)  # at least the last two samples


def test_rates_need_two_samples_and_never_go_negative() -> None:
    assert rates([Sample(0, 10, 10, 0)], 10) == Rates(None, None)
    reset = [Sample(0, 100, 100, 0), Sample(2, 10, 120, 0)]
    assert rates(reset, 10) == Rates(None, 10.0)
