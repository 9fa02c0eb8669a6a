"""The cash extra (kimia.extras). Its hooks are in ``plugin``."""
