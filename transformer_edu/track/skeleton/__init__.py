"""Your Transformer, written by you: the write-it-yourself track of "The Transformer, Step by Step".

Each module has stubs to fill in (they raise NotImplementedError naming the chapter and section that builds
them) and parts already written for you (marked "given"). Work through them in the order of the progress
table, and grade as you go, from the folder that holds this package:

    python -m transformer_edu.track grade .

The grader runs the book's own checks on your code: comparisons with the book's package and with PyTorch, the
properties a correct implementation has, and the diagnostics of the exercise checkers, which recognise common
mistakes. Your code may use torch freely; it must not import the answers from transformer_edu (only the given
parts do: the configuration, the token embedding and the weight initialisation).
"""
