"""The password rule as a pure function."""

import pytest

from control_plane.password_policy import password_problem


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery",
        "Tr0ub4dor&3",
        "x9$Lk2!qPzx9$Lk2!qPz",
        "grüße aus köln am rhein " * 10,
    ],
)
def test_long_or_unusual_passwords_pass(password: str) -> None:
    assert password_problem(password[:256], "ada@example.com") is None


@pytest.mark.parametrize(
    ("password", "start"),
    [
        ("123456789", "Must be at least 10"),
        ("x" * 257, "Must be at most 256"),
        ("1234567890", "Too easy to guess"),
        ("iloveyou12", "Too easy to guess"),
        ("aaaaaaaaaaaa", "Too easy to guess"),
        ("Ada@Example.com", "Must not be your email"),
        ("adalovelace", "Must not be your email"),
        # A strong start is judged on its first 72 characters; a weak one is weak.
        ("password" * 20, "Too easy to guess"),
    ],
)
def test_short_common_or_personal_passwords_are_refused(password: str, start: str) -> None:
    email = "adalovelace@example.com" if password == "adalovelace" else "ada@example.com"
    problem = password_problem(password, email)
    assert problem is not None and problem.startswith(start), problem
