"""Behaviour of mail:
what mutation testing (scripts/mutation.py) showed no test pinned."""
