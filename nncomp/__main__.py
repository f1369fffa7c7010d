"""python -m nncomp: the command line."""

from .cli import run

run()
