"""The fault table: one row per fault, what it cost (printed at the end of the session and
written next to the run's logs as ``faults.md``)."""

from collections.abc import Sequence

from tests.faults.judgement import Verdict

HEADER = (
    "| fault | events answered 200 | 200s lost | double counts "
    "| seconds to recover (ingest / apply) | 5xx seen |"
)
RULE = "|---|---:|---:|---:|---|---|"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def row(verdict: Verdict) -> str:
    errors = ", ".join(f"{n}x {what}" for what, n in sorted(verdict.errors.items())) or "none"
    recovery = f"{seconds(verdict.ingest_recovery)} / {seconds(verdict.apply_recovery)}"
    return (
        f"| {verdict.fault} | {verdict.answered_200:,} | {verdict.lost} "
        f"| {verdict.doubled} | {recovery} | {errors} |"
    )


def table(verdicts: Sequence[Verdict]) -> str:
    return "\n".join([HEADER, RULE, *(row(v) for v in verdicts)])
