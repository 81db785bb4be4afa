"""The password rule: 10 to 256 characters, not the email, and not guessable in under a
million tries (zxcvbn, which ships its lists of common passwords, words and names, and
spots their usual variations: ``Password1234``, ``qwertyuiop``, ``iloveyou12``).

A million guesses is what an online attacker gets through the login throttles in years,
so this refuses exactly what they would try first (NIST SP 800-63B: check against lists
of commonly used or compromised passwords). No composition rules: length beats them.
"""

from zxcvbn import zxcvbn  # type: ignore[import-untyped]

MIN_LENGTH = 10
MAX_LENGTH = 256
# zxcvbn's score 2 and up: at least 10^6 guesses.
MIN_SCORE = 2
# zxcvbn refuses longer input (its matching grows fast with length); a prefix is never
# stronger than the whole, so judging the first 72 characters is on the safe side.
_ZXCVBN_MAX = 72


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused, or ``None``. Pure, but costs up to ~40 ms of CPU:
    call it off the event loop."""
    if len(password) < MIN_LENGTH:
        return f"Must be at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Must be at most {MAX_LENGTH} characters."
    lowered = password.strip().lower()
    address = email.strip().lower()
    if address and (lowered == address or lowered == address.partition("@")[0]):
        return "Must not be your email address."
    # No user_inputs: zxcvbn keeps them in a module-level dictionary, shared by threads.
    result = zxcvbn(password[:_ZXCVBN_MAX])
    if int(result["score"]) < MIN_SCORE:
        warning = str(result["feedback"].get("warning") or "")
        reason = warning.rstrip(".") + ". " if warning else ""
        return f"Too easy to guess: {reason}Use a longer password, e.g. a few unrelated words."
    return None
