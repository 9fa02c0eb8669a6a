"""The member portal (``/portal``): a member signs in with a one-time code sent to their mobile
and sees their balances, history, vouchers, referral code and profile. Built on the panel's
machinery (kimia.web.panel: access, site, signin, i18n, fmt)."""
