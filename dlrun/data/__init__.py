"""Data: sources, target encoding, split protocols and preprocessing fitted on training rows only."""
