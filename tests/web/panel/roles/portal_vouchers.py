"""Cases of kimia/web/portal/pages/vouchers.py. Buying names club A's voucher offer: a member of
club B is answered 404 (not their club's offer); club A's member is served (bought, or refused
for too few points on the page)."""

from __future__ import annotations

import secrets

from . import Case, Visit

CASES: dict[str, Case] = {
    "portal.vouchers.vouchers": lambda p: Visit("/portal/vouchers", names_a=False),
    "portal.vouchers.buy": lambda p: Visit("/portal/vouchers/buy", form={"template_id": p.a.voucher_template_id,
                                                                         "form_key": secrets.token_urlsafe(12)}),
}
