"""One router per concept: API under /api/, HTML pages on the same data."""
