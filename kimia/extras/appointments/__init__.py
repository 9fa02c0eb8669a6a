"""The appointments extra (kimia.extras). Its hooks are in ``plugin``."""
