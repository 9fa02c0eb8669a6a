"""The notifications extra (kimia.extras). Its hooks are in ``plugin``."""
