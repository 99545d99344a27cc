"""Protocols: how often and on what the flow runs (holdout once, k-fold once per fold); the only place stages meet."""
