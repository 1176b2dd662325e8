"""Auditing many repositories: targets, mirror cache, SQLite store, local pool or Dask scheduler."""
