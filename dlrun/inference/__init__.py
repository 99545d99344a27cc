"""Using a finished run: evaluate it, predict with it (its model and fitted preprocessing, nothing refitted)."""
