"""Behaviour of the printed documents' content that mutation testing (scripts/mutation.py) showed no test pinned."""
