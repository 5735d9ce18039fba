"""Behaviour of the printed documents (render, files, cache):
what mutation testing (scripts/mutation.py) showed no test pinned."""
