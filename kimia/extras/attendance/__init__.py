"""The attendance extra (kimia.extras). Its hooks are in ``plugin``."""
