"""Checkers for each chapter's exercises: call one with your answer, read what it says.

One module per chapter (`ch05` for chapter 5 ...). A checker never just says False: it names what it
expected, what it received, and where to look.
"""
from ._check import Feedback

__all__ = ["Feedback"]
