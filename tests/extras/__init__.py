"""Tests of kimia.extras (each extra: a built-in plugin)."""
