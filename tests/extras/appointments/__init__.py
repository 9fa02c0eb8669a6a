"""Tests of the appointments extra (kimia.extras.appointments)."""
