"""The portal's pages, one module per area; each declares its pages with ``PORTAL.page``."""
