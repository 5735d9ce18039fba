"""Behaviour of accounts and sign-in throttling that mutation testing (scripts/mutation.py) showed no test pinned."""
