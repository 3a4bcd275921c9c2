"""Rich renderings shared by several commands."""

from __future__ import annotations

from rich.table import Table

from glaucli.data.layout import CLASSES


def counts_table(counts: dict[str, dict[str, int]], title: str | None = None) -> Table:
    table = Table(title=title)
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
