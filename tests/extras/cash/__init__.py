"""Tests of the cash extra (kimia.extras.cash): expenses, cash receipts, the daily income report."""
