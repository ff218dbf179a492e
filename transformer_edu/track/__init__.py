"""Write it yourself: a guided implementation track, graded by the book's own checks.

    python -m transformer_edu.track init DIR        # DIR/mytransformer/: every part the chapters build, as stubs
    python -m transformer_edu.track grade DIR       # grade DIR/mytransformer, part by part, then the capstone
    python -m transformer_edu.track grade DIR --upto 6  # only the parts of chapters 1 to 6
    python -m transformer_edu.track grade --reference   # the same checks on transformer_edu itself

In a notebook: `from transformer_edu.track import grade; grade("DIR")` prints the same table and returns the
results. The learner's package lives outside the repository, so an update of the book never touches it.
components.py lists the parts in dependency order, with the chapter section that builds each; checks_*.py
hold the checks (parity with the book's package and with torch, properties, the exercise checkers'
diagnostics of typical mistakes); grader.py runs them and the capstone (the learner's model, trained by the
book's own training loop, must reach 99% exact match on held-out dates).
"""
from .components import COMPONENTS, Component, todo
from .grader import grade, init

__all__ = ["COMPONENTS", "Component", "grade", "init", "todo"]
