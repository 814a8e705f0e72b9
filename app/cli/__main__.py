"""python -m app.cli: the same as the `contacts` console script."""

from app.cli import main

main()
