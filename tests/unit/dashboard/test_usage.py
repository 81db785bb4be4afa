"""The per-project arithmetic the ops view shows members: remaining and overage."""

from datetime import date

import pytest

from dashboard.usage import MonthUsage, ProjectUsage, overage, remaining


@pytest.mark.parametrize(
    ("used", "limit", "left", "over"),
    [
        (0, 10_000, 10_000, 0),
        (9_999, 10_000, 1, 0),
        (10_000, 10_000, 0, 0),  # at the limit: nothing left, nothing past it
        (10_250, 10_000, 0, 250),
        (5, 0, 0, 5),  # a zero limit: every event counted is overage
    ],
)
def test_remaining_and_overage_meet_at_the_limit(
    used: int, limit: int, left: int, over: int
) -> None:
    assert (remaining(used, limit), overage(used, limit)) == (left, over)


def test_the_month_total_sums_each_projects_overage_not_their_difference() -> None:
    """A project under its limit does not offset another's overage."""
    usage = MonthUsage(
        date(2026, 12, 1),
        [
            ProjectUsage("a", "alpha", "Alpha", "free", limit=100, used=130),
            ProjectUsage("b", "beta", "Beta", "pro", limit=1_000, used=10),
        ],
    )
    body = usage.body("member")
    assert (body["scope"], body["month"], body["overageThisMonth"]) == ("member", "2026-12", 30)
    assert body["projects"][1] == {
        "id": "b",
        "slug": "beta",
        "name": "Beta",
        "plan": "pro",
        "used": 10,
        "limit": 1_000,
        "remaining": 990,
        "overage": 0,
    }
