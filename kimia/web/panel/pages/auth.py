"""The panel's sign-in and sign-out, and its front page (which sends each role to its own)."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, request, url_for
from werkzeug.routing import BuildError

from kimia.errors import KimiaError
from kimia.service import staff
from kimia.web.api.problems import status_of
from kimia.web.panel import signin
from kimia.web.panel.access import ANYONE, PANEL, STAFF_ROLES, Viewer, message_of, service
from kimia.web.panel.site import render, safe_next

#: Where each role starts (the first page its menu would offer).
HOME_OF = {"platform": "panel.platform.clubs", "merchant": "panel.merchant.home"}
DEFAULT_HOME = "panel.dashboard.dashboard"


@PANEL.page("/login", roles=ANYONE, methods=("GET", "POST"))
def login(v: Viewer) -> Any:
    """The sign-in form; a signed-in person goes straight to their home."""
    if v.session is not None and request.method == "GET":
        return redirect(url_for("panel.auth.home"))
    signin.prepare_form()
    error, login_name, status = "", "", 200
    if request.method == "POST":
        login_name = request.form.get("login", "")[:100]
        try:
            signin.check_form_token()
            signin.throttle(PANEL)
            user = staff.authenticate(service(), login_name, request.form.get("password", ""))
            token, _ = staff.open_session(service(), kind="staff", user_id=user.id, club_id=user.club_id,
                                          address=request.remote_addr or "")
        except KimiaError as refused:
            error, status = message_of(refused, v.lang), status_of(refused.code)
        else:
            target = safe_next(request.args.get("next"), "/panel") or url_for("panel.auth.home")
            response = redirect(target)
            signin.set_session_cookie(response, PANEL, token)
            return response
    notice = "auth.signed_out" if request.args.get("out") else ""
    response = render("panel/login.html", status=status, error=error, login=login_name, notice=notice)
    return signin.keep_form_token(response, PANEL)


@PANEL.page("/logout", roles=frozenset(STAFF_ROLES), methods=("POST",))
def logout(v: Viewer) -> Any:
    """Sign out: the session ends on the server at once."""
    staff.revoke_session(service(), request.cookies.get(PANEL.cookie, ""))
    response = redirect(url_for("panel.auth.login", out=1))
    signin.clear_session_cookie(response, PANEL)
    return response


@PANEL.page("/", roles=frozenset(STAFF_ROLES))
def home(v: Viewer) -> Any:
    """Each role's own start page (the menu itself while that page is not there)."""
    try:
        return redirect(url_for(HOME_OF.get(v.role, DEFAULT_HOME)))
    except BuildError:
        return render("panel/home.html")


def viewer() -> Viewer:
    return g.viewer  # type: ignore[no-any-return]
