"""`python -m dlrun` runs the command-line interface."""

from dlrun.cli import main

main()
