"""``python -m factoryloop.cli``: the same as the ``factoryloop`` command."""

from factoryloop.cli import main

main()
