"""Behaviour of planning that mutation testing (scripts/mutation.py) showed no test pinned."""
