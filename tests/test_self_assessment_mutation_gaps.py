"""Behaviour of the self-assessment that mutation testing (scripts/mutation.py) showed no test pinned."""
