"""Behaviour of the self-assessment:
what mutation testing (scripts/mutation.py) showed no test pinned."""
