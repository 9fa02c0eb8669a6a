"""The decision-core tests need no fixtures: every test builds its own rule set, member snapshot
and purchase with the plain helpers of ``helpers.py`` (times are Tehran wall-clock times)."""
