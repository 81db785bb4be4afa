"""Plain-text tables for the CLI (pure functions: rows in, text out)."""

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def query_table(answer: dict[str, Any]) -> str:
    """The ``POST /api/query`` answer as a table, by its type."""
    kind = answer.get("type")
    if kind == "timeseries":
        return table(["t", "value"], [(p["t"], p["value"]) for p in answer.get("data", [])])
    if kind == "breakdown":
        rows = [
            (p["key"] if p["key"] is not None else "(none)", p["value"]) for p in answer["data"]
        ]
        if answer.get("other"):
            rows.append(("(other)", answer["other"]))
        return table([answer.get("breakdown", "key"), "value"], rows)
    if kind == "metric":
        return table(["value", "previous"], [(answer.get("value"), answer.get("previous"))])
    if kind == "funnel":
        return table(
            ["step", "event", "users", "from first", "from previous", "median s"],
            [
                (
                    n,
                    s["event"],
                    s["users"],
                    _percent(s.get("conversionFromFirst")),
                    _percent(s.get("conversionFromPrevious")),
                    s.get("medianSecondsToConvert"),
                )
                for n, s in enumerate(answer.get("steps", []), start=1)
            ],
        )
    raise ValueError(f"unknown answer type {kind!r}")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"
