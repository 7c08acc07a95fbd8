"""Fixtures of the HasData extension tests (helpers live in hasdata_ext_support)."""

from hasdata_ext_support import book_truth

__all__ = ["book_truth"]
