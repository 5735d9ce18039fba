"""Behaviour of the learning-set file:
what mutation testing (scripts/mutation.py) showed no test pinned."""
