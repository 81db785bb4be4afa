"""Whose fault a failed batch is: its data's (isolate the records) or the infrastructure's
(retry the whole batch).

PostgreSQL says which by the SQLSTATE's class: a data exception (22: a value out of range,
a character the encoding lacks), an integrity violation (23) or a program limit (54: an
index row too big) is the same on every retry, so retrying the batch would hold every
later record back forever; anything else — a lost connection, a shutdown, a deadlock, a
table not migrated yet, a bug — may pass on a later try, and skipping records for it
would lose them. psycopg files some data errors under OperationalError (54 is a
ProgramLimitExceeded), so the class decides, never the exception's base class.
"""

import re
from dataclasses import dataclass
from enum import Enum

import psycopg

# SQLSTATE classes whose errors come from the rows written, not from the server's state.
DATA_CLASSES = frozenset({"22", "23", "54"})
# Every column the sink writes NOT NULL it fills from a decoded record, so a NOT NULL
# violation means the schema moved under the worker: retried, never blamed on records.
NOT_DATA = frozenset({"23502"})


class Kind(Enum):
    DATA = "data"
    INFRASTRUCTURE = "infrastructure"


@dataclass(frozen=True, slots=True)
class Failure:
    kind: Kind
    code: str  # snake_case condition name: the dead-letter reason and the metric's label

    @property
    def is_data(self) -> bool:
        return self.kind is Kind.DATA


def condition_name(exc: BaseException) -> str:
    """``ProgramLimitExceeded`` -> ``program_limit_exceeded`` (PostgreSQL's own names)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def classify(exc: BaseException) -> Failure:
    """Data or infrastructure, with a short code for the reason."""
    name = condition_name(exc)
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None:
            # Raised by psycopg itself while adapting a value (a NUL in a text): data.
            kind = Kind.DATA if isinstance(exc, psycopg.DataError) else Kind.INFRASTRUCTURE
            return Failure(kind, name)
        if state[:2] in DATA_CLASSES and state not in NOT_DATA:
            return Failure(Kind.DATA, name)
    return Failure(Kind.INFRASTRUCTURE, name)


MAX_DETAIL = 300


def describe(exc: BaseException) -> str:
    """``code: first line of the message``, short: the dead-letter reason. The message may
    quote the record (the dead-letter topic holds it anyway); it is never logged."""
    lines = str(exc).splitlines()
    return f"{condition_name(exc)}: {lines[0] if lines else ''}"[:MAX_DETAIL]
