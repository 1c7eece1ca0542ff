"""Sizes and run counts of each scenario, for the full run and for `--quick`.

The full plan keeps `make bench` near 30 minutes on a 2-core machine. The quick plan runs
every scenario on a tiny scale in about a minute, for the smoke test.
"""

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """Scenario sizes: counts of drops and runs, and the sandbox's latency."""

    quick: bool
    # Sandbox latency before every API response, ms.
    latency_ms: int = 20
    budget_drops: int = 1000
    budget_runs: int = 3
    budget_concurrency: int = 4
    throughput_drops: int = 2000
    throughput_runs: int = 3
    throughput_concurrencies: tuple[int, ...] = (1, 4)
    ingest_drops: int = 10_000
    ingest_runs: int = 2
    latency_drops: int = 15
    latency_runs: int = 3
    latency_settle_seconds: float = 2.0
    latency_poll_seconds: float = 2.0
    pending_counts: tuple[int, ...] = (10_000, 100_000)
    # Runs for each pending count, in the order of pending_counts.
    pending_runs: tuple[int, ...] = (2, 1)
    large_file_mb: int = 500
    large_file_runs: int = 3

    def with_runs(self, runs: int) -> "Plan":
        """Return the plan with every run count set to `runs`."""
        return dataclasses.replace(
            self, budget_runs=runs, throughput_runs=runs, ingest_runs=runs,
            latency_runs=runs, pending_runs=tuple(runs for _ in self.pending_counts),
            large_file_runs=runs)


FULL = Plan(quick=False)

QUICK = Plan(
    quick=True, budget_drops=20, budget_runs=1, throughput_drops=20, throughput_runs=1,
    ingest_drops=200, ingest_runs=1, latency_drops=2, latency_runs=1,
    latency_settle_seconds=0.5, latency_poll_seconds=0.5, pending_counts=(200, 2000),
    pending_runs=(1, 1), large_file_mb=5, large_file_runs=1)
