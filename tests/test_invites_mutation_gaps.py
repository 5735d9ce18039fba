"""Behaviour of invites that mutation testing (scripts/mutation.py) showed no test pinned."""
