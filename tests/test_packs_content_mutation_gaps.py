"""Behaviour of the printed documents' content:
what mutation testing (scripts/mutation.py) showed no test pinned."""
