"""Signing in and out, shared by the panel and the portal: the sign-in form's CSRF token (a
double-submit cookie, since there is no session yet), the per-address limit on attempts, and the
session cookie.

The session cookie is HttpOnly, SameSite=Lax, scoped to its site's path, Secure unless
``KIMIA_WEB_SECURE_COOKIES=0``, and carries no expiry of its own (the server ends the session).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app, g, request
from werkzeug.wrappers import Response

from kimia.errors import reject
from kimia.web.api.limits import RateLimiter, retry_after_s
from kimia.web.panel.access import Site

LOGIN_CSRF_COOKIE = "kimia_signin"
#: Sign-in attempts (passwords or one-time codes) a minute from one address, per process.
SIGN_IN_PER_MIN = 30


def limiter() -> RateLimiter:
    found = current_app.extensions.get("kimia_sign_in")
    if found is None:
        found = current_app.extensions["kimia_sign_in"] = RateLimiter()
    assert isinstance(found, RateLimiter)
    return found


def throttle(site: Site) -> None:
    """``login_throttled`` when this address has tried too often in the last minute."""
    address = request.remote_addr or "?"
    key = int.from_bytes(hashlib.sha256(f"{site.name}|{address}".encode()).digest()[:8], "big")
    wait = limiter().take(key, int(current_app.config.get("KIMIA_SIGN_IN_PER_MIN", SIGN_IN_PER_MIN)))
    if wait:
        raise reject("login_throttled", retry_after_s=retry_after_s(wait))


def prepare_form() -> None:
    """A token for the sign-in form, kept in a cookie too (set by :func:`keep_form_token`)."""
    g.login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def keep_form_token(response: Response, site: Site) -> Response:
    response.set_cookie(LOGIN_CSRF_COOKIE, str(g.login_csrf), httponly=True, samesite="Strict", path=f"/{site.name}",
                        secure=current_app.config["KIMIA_SECURE_COOKIES"])
    return response


def check_form_token() -> None:
    """The posted sign-in form carries the token of its cookie (another site cannot read it)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    posted = request.form.get("csrf_token", "")
    if not cookie or not hmac.compare_digest(cookie, posted):
        raise reject("csrf_failed")


def set_session_cookie(response: Response, site: Site, token: str) -> None:
    response.set_cookie(site.cookie, token, httponly=True, samesite="Lax", path=f"/{site.name}",
                        secure=current_app.config["KIMIA_SECURE_COOKIES"])
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"/{site.name}")


def clear_session_cookie(response: Response, site: Site) -> None:
    response.delete_cookie(site.cookie, path=f"/{site.name}", httponly=True, samesite="Lax",
                           secure=current_app.config["KIMIA_SECURE_COOKIES"])
