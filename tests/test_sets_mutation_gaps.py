"""Behaviour of sets:
what mutation testing (scripts/mutation.py) showed no test pinned."""
