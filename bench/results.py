"""Scenario results for the report: sections of rows, one value per run in each row."""

from dataclasses import dataclass, field

from bench.measure import Spread, spread


@dataclass
class Row:
    """One figure measured in several runs; `key` lets the goals find it."""

    key: str
    figure: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def spread(self) -> Spread:
        return spread(self.values)


@dataclass
class Section:
    """One scenario's table: how it was run, its rows and notes."""

    key: str
    title: str
    setup: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, key: str) -> Row | None:
        return next((row for row in self.rows if row.key == key), None)
