"""Programmes: many learning sets under a programme lead, with the numbers the programme page,
the report PDF and the exports all share."""
