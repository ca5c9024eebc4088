"""Subcommands of ``python -m workbench``, one module per concept."""
