"""Behaviour of invites:
what mutation testing (scripts/mutation.py) showed no test pinned."""
