"""`python -m dlrun` runs the command-line interface."""

from dlrun.cli import main

if __name__ == "__main__":  # guarded: k-fold worker processes (spawn) import this module again
    main()
