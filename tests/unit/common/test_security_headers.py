"""The security headers every service sends."""

from common.security_headers import API_POLICY, PAGE_POLICY, security_headers


def test_no_framing_no_inline_code_no_referrer_off_origin() -> None:
    for policy in (API_POLICY, PAGE_POLICY):
        headers = security_headers(policy)
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers
    assert security_headers(API_POLICY, hsts=True)["Strict-Transport-Security"].startswith(
        "max-age="
    )
