"""The panel's pages, one module per area; each declares its pages with ``PANEL.page`` and adds
its words with ``i18n.add`` (kimia.web.panel.access, kimia.web.panel.i18n)."""
