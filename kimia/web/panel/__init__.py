"""The panel (``/panel``): the platform's operator, club staff and merchant staff, in Persian and
English (docs/panel.md). The machinery here is shared with the member portal (kimia.web.portal):

- ``access``: roles, the page registry and the one guard every page is behind;
- ``site``: a site as a blueprint (sessions, language, rendering, security headers);
- ``signin``: the sign-in form's token, the per-address limit, the session cookie;
- ``i18n``: the words in both languages; ``fmt``: digits, money and Jalali dates; ``charts``: SVG.

The pages themselves are modules in ``pages/``, one per area.
"""
