"""kimia's extras (SPEC X1–X5), each a built-in plugin registered exactly as a third-party one
is (kimia.plugins.manager.BUILTIN_PLUGINS), through the plain contract of kimia.plugins.types:

- ``attendance`` (X1): staff registered on a terminal clock in and out; corrections; reports;
- ``cash`` (X2, X3): a merchant's daily expenses and cash receipts; the daily income report;
- ``appointments`` (X4): services, time slots, bookings from the portal and the API, check-in;
- ``notifications``: the outbox's delivery worker and its channels (SMS, e-mail, webhooks) with
  the clubs' message templates.
"""
