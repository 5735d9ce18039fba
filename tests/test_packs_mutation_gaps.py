"""Behaviour of the printed documents (render, files, cache) that mutation testing (scripts/mutation.py) showed no test pinned."""
