"""Behaviour of mail that mutation testing (scripts/mutation.py) showed no test pinned."""
