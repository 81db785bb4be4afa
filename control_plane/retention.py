"""A project's raw-event retention (issue 17, docs/decisions/0016): its bounds and the
check of an owner's choice against the operators' maximum.

The workers drop a project's raw events past ``raw_retention_days`` by whole partitions;
the control plane only stores the setting, bounded here so that no owner keeps raw events
longer than the operators allow (``RA_MAX_RAW_RETENTION_DAYS``).
"""

# A new project's retention (the column's default, migrations/0038_raw_retention.sql).
DEFAULT_RAW_RETENTION_DAYS = 365
# The database's own bound on the column: no operators' maximum may pass it.
MAX_RAW_RETENTION_DAYS = 36500


def retention_problem(days: int, maximum: int) -> str | None:
    """Why ``days`` may not be a project's raw retention under the operators' ``maximum``
    (``None``: it may). The schema already refuses what is not an integer."""
    if days < 1:
        return "Must be at least 1 day."
    if days > maximum:
        return f"Must be at most {maximum} days (the operators' maximum)."
    return None
