"""glaucli runs: every run with its status and validation AUC."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from glaucli import config, console
from glaucli.cli import options

if TYPE_CHECKING:
    from rich.table import Table


def runs(runs_dir: options.RunsDir = None, json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """List runs: name, kind, backbone, status, validation AUC, date."""
    options.apply(quiet)
    from glaucli.runs import list_runs

    rows = []
    for path, meta in list_runs(config.runs_dir(runs_dir)):
        auc = _dig(meta, "metrics", "validation", "auc")  # a corrupt meta.json never breaks the list
        auc = auc if isinstance(auc, (int, float)) and not isinstance(auc, bool) else None
        text = {key: _text(meta.get(key)) for key in ("kind", "backbone", "method", "status", "finished_at",
                                                      "started_at", "resume")}
        rows.append({"name": path.name, "path": str(path), "kind": text["kind"],
                     "backbone": text["backbone"] or text["method"], "status": text["status"],
                     "val_auc": auc, "synthetic": bool(meta.get("synthetic")),
                     "date": text["finished_at"] or text["started_at"],
                     "resume": text["resume"] if text["status"] in ("interrupted", "failed") else None})
    if json_out:
        console.emit_json({"runs": rows})
        return
    console.emit(runs_table(rows, config.runs_dir(runs_dir)))
    for r in rows:  # a hint, not data: stderr
        if r["resume"]:
            console.info(f"{r['name']} stopped ({r['status']}); continue with: {r['resume']}")
    if not rows:
        console.info("No runs yet: `glaucli train BACKBONE` makes one.")


def runs_table(rows: list[dict], where) -> "Table":
    """Fits 80 columns: the kind goes into the model column, dates lose seconds, names fold
    (never cut) when they are longer than the room left."""
    from rich.markup import escape
    from rich.table import Table

    from glaucli.cli.render import short_date

    synthetic = any(r.get("synthetic") for r in rows)
    table = Table(title=f"Runs in {escape(str(where))}",
                  caption="* trained on synthetic data (glaucli sample)" if synthetic else None)
    # Names up to 24 characters stay on one line (the other columns fold first); longer ones fold.
    longest = max((len(r["name"]) for r in rows), default=4)
    table.add_column("name", overflow="fold", no_wrap=longest <= 24)
    table.add_column("model", overflow="fold")
    table.add_column("status", overflow="fold")
    table.add_column("val AUC", justify="right", no_wrap=True)
    table.add_column("finished", overflow="fold")
    for r in rows:
        model = r["backbone"] or ""
        if r["kind"] == "ensemble":
            model = f"{model} ensemble"
        table.add_row(escape(r["name"]) + (" *" if r.get("synthetic") else ""), escape(model), escape(r["status"] or ""),
                      f"{r['val_auc']:.4f}" if isinstance(r["val_auc"], (int, float)) else "-",
                      short_date(r["date"]))
    return table


def _text(value) -> str | None:
    """A meta.json field as text (a corrupt one, say a number, still shows)."""
    return value if value is None or isinstance(value, str) else str(value)


def _dig(data, *keys):
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(runs)
