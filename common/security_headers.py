"""Security headers on every answer of a service: no framing (clickjacking), a Content
Security Policy, no referrer leaving the origin, no MIME sniffing; HSTS when served over
HTTPS only.

Registered per app with ``add_security_headers``; aiohttp runs the hooks of the root app
first and of the sub-app that answered last, so a sub-app's own policy (the dashboard's
pages) replaces the origin's default.
"""

from collections.abc import Awaitable, Callable

from aiohttp import web

# JSON answers: nothing may be loaded, run or framed from them.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The dashboard's pages: scripts, styles and data from the origin only, nothing inline.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(policy: str, hsts: bool = False) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if hsts:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def add_security_headers(app: web.Application, policy: str, hsts: bool = False) -> None:
    headers = security_headers(policy, hsts)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(headers)

    hook: Callable[[web.Request, web.StreamResponse], Awaitable[None]] = on_prepare
    app.on_response_prepare.append(hook)
