"""Behaviour of accounts and sign-in throttling:
what mutation testing (scripts/mutation.py) showed no test pinned."""
