"""Behaviour of the learning-set file that mutation testing (scripts/mutation.py) showed no test pinned."""
