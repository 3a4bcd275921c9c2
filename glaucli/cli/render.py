"""Rich renderings shared by several commands."""

from __future__ import annotations

from rich.table import Table

from glaucli.data.layout import CLASSES


def counts_table(counts: dict[str, dict[str, int]], title: str | None = None) -> Table:
    table = Table(title=title)  # markup: callers escape the user parts
    table.add_column("split")
    for cls in CLASSES:
        table.add_column(cls, justify="right")
    table.add_column("total", justify="right")
    for split, by_class in counts.items():
        table.add_row(split, *(str(by_class.get(c, 0)) for c in CLASSES),
                      str(sum(by_class.values())))
    if list(counts) == ["all"]:  # a collection without splits: its one row is the total
        return table
    total = {c: sum(s.get(c, 0) for s in counts.values()) for c in CLASSES}
    table.add_row("[bold]all[/]", *(f"[bold]{total[c]}[/]" for c in CLASSES),
                  f"[bold]{sum(total.values())}[/]")
    return table


def separating_digits(pairs, lo: int = 3, hi: int = 6) -> int:
    """The fewest decimals (lo..hi) at which every (value, threshold) pair that differs also
    prints differently: 0.48112 next to a threshold of 0.481463 must not both read 0.481."""
    pairs = [(a, b) for a, b in pairs if a != b]
    for digits in range(lo, hi + 1):
        if all(f"{a:.{digits}f}" != f"{b:.{digits}f}" for a, b in pairs):
            return digits
    return hi


def display_path(path: str) -> str:
    """A path as short as it can be said: relative to the working folder when under it."""
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return rel if not rel.startswith("..") else path


def short_date(stamp: str | None) -> str:
    """`2026-12-02T03:11:37.123+00:00` -> `2026-12-02 03:11` (the table needs no more)."""
    if not stamp:
        return ""
    return stamp.replace("T", " ")[:16]
