"""Executors: where independent jobs run — in this process, or in local worker processes.
An executor knows nothing of what a job is (a fold, later a trial); protocols hand it jobs."""
