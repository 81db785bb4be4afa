"""Which failures are the data's fault (isolate the records) and which are not (retry)."""

import psycopg
import pytest
from psycopg import errors

from stream_workers.failures import Kind, classify, describe


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            errors.ProgramLimitExceeded("index row size 2856 exceeds maximum 2704"),
            "program_limit_exceeded",
        ),
        (errors.CharacterNotInRepertoire("invalid byte sequence"), "character_not_in_repertoire"),
        (errors.UntranslatableCharacter("unsupported Unicode escape"), "untranslatable_character"),
        (errors.NumericValueOutOfRange("bigint out of range"), "numeric_value_out_of_range"),
        (
            errors.DatetimeFieldOverflow("date/time field value out of range"),
            "datetime_field_overflow",
        ),
        (errors.CheckViolation("violates check constraint"), "check_violation"),
        (errors.UniqueViolation("duplicate key"), "unique_violation"),
        (errors.StatementTooComplex("stack depth limit exceeded"), "statement_too_complex"),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), "data_error"),
    ],
)
def test_errors_from_the_rows_written_are_the_datas_fault(error: Exception, code: str) -> None:
    failure = classify(error)
    assert (failure.kind, failure.code) == (Kind.DATA, code)
    assert failure.is_data


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("the connection is lost"),  # no SQLSTATE: the client's own
        psycopg.InterfaceError("the connection is closed"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is starting up"),
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.SerializationFailure("could not serialize access"),
        errors.DeadlockDetected("deadlock detected"),
        errors.DiskFull("could not extend file"),
        errors.OutOfMemory("out of memory"),
        errors.UndefinedTable('relation "rollups" does not exist'),  # not migrated yet
        errors.NotNullViolation("null value in column"),  # the schema moved, not the data
        errors.InternalError_("cache lookup failed"),
        RuntimeError("a bug"),
        OSError("network unreachable"),
    ],
)
def test_everything_else_is_retried_whole(error: Exception) -> None:
    assert classify(error).kind is Kind.INFRASTRUCTURE


def test_the_reason_is_the_condition_and_the_first_line_short() -> None:
    error = errors.ProgramLimitExceeded("index row size 2856 exceeds\nDETAIL: " + "x" * 1000)
    assert describe(error) == "program_limit_exceeded: index row size 2856 exceeds"
    assert len(describe(errors.CheckViolation("y" * 1000))) == 300
