"""Behaviour of planning:
what mutation testing (scripts/mutation.py) showed no test pinned."""
