"""kimia-example-plugin: a gift-wrap counter, written against kimia's plugin contract only
(``kimia.plugins``: ``hookimpl`` and the plain types). See README.md."""

__version__ = "0.1.0"
