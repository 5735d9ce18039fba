"""Behaviour of sets that mutation testing (scripts/mutation.py) showed no test pinned."""
