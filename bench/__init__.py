"""Benchmarks of the courier against the 1C-Connect sandbox: `python -m bench`.

Every scenario starts its own redis-server, sandbox, workers and watcher as subprocesses
on loopback ports and temporary folders, and stops them when it ends. The tests in
tests/ check behaviour; this package only measures and writes docs/BENCHMARKS.md.
"""
