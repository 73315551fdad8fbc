"""``python -m lookalike``: the same as the ``lookalike`` command."""

from lookalike.cli.app import main

main()
