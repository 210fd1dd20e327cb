"""Replications and what is built from them: executors (local pool, Dask), scenario comparison, sweeps, goal seeking, variance split."""
