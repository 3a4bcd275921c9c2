"""glaucli runs: every run with its status and validation AUC."""

from __future__ import annotations

import typer

from glaucli import config, console
from glaucli.cli import options


def runs(runs_dir: options.RunsDir = None, json_out: options.Json = False, quiet: options.Quiet = False) -> None:
    """List runs: name, kind, backbone, status, validation AUC, date."""
    options.apply(quiet)
    from glaucli.runs import list_runs

    rows = []
    for path, meta in list_runs(config.runs_dir(runs_dir)):
        auc = (meta.get("metrics") or {}).get("validation", {}).get("auc")
        rows.append({"name": path.name, "path": str(path), "kind": meta.get("kind"),
                     "backbone": meta.get("backbone") or meta.get("method"), "status": meta.get("status"),
                     "val_auc": auc, "synthetic": bool(meta.get("synthetic")), "date": meta.get("finished_at") or meta.get("started_at"),
                     "resume": meta.get("resume") if meta.get("status") in ("interrupted", "failed") else None})
    if json_out:
        console.emit_json({"runs": rows})
        return
    from rich.table import Table

    synthetic = any(r["synthetic"] for r in rows)
    table = Table(title=f"Runs in {config.runs_dir(runs_dir)}",
                  caption="* trained on synthetic data (glaucli sample)" if synthetic else None)
    for column in ("name", "kind", "backbone", "status", "val AUC", "date"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"] + (" *" if r["synthetic"] else ""), r["kind"] or "", r["backbone"] or "", r["status"] or "",
                      f"{r['val_auc']:.4f}" if isinstance(r["val_auc"], (int, float)) else "-", r["date"] or "")
    console.emit(table)
    for r in rows:
        if r["resume"]:
            console.emit(f"{r['name']} stopped ({r['status']}); continue with: {r['resume']}")
    if not rows:
        console.info("No runs yet: `glaucli train BACKBONE` makes one.")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Models")(runs)
