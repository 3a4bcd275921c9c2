"""glaucli split SRC DEST: a stratified (optionally grouped) split of a collection, as a manifest CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def split(
    src: Annotated[Path, typer.Argument(help="The collection: a folder tree, an image folder with --labels, or a CSV manifest.", show_default=False)],
    dest: Annotated[Path, typer.Argument(help="The manifest CSV to write (path,label,split); a new file.", show_default=False)],
    val: Annotated[float, typer.Option("--val", help="Share of images for validation.")] = 0.1,
    test: Annotated[float, typer.Option("--test", help="Share of images for test.")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Same seed, same split.")] = 0,
    group_column: Annotated[Optional[str], typer.Option("--group-column", help="CSV column of patient/eye ids: a group never straddles two splits.", show_default=False)] = None,
    labels: options.Labels = None,
    classes: options.Classes = None,
    image_column: options.ImageColumn = None,
    label_column: options.LabelColumn = None,
    skip_missing: options.SkipMissing = False,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Split a collection into train/validation/test, stratified by class (by group with --group-column).

    Writes a manifest, not copies: pass it as --data to train, evaluate, data or compare."""
    options.apply(quiet)
    from rich.markup import escape

    from glaucli.cli.render import counts_table
    from glaucli.data.collection import Collection, resolve
    from glaucli.data.split import assign, write_manifest_csv
    from glaucli.errors import UsageError

    if src.resolve() == dest.resolve() or (labels is not None and labels.resolve() == dest.resolve()):
        raise UsageError("DEST is one of the inputs", hint="write the manifest to a new file")
    spec = options.data_spec(src, labels, classes, image_column, label_column, None, skip_missing)
    spec.group_column = group_column
    found = resolve(spec, config.data_dir(None))
    options.announce(found)
    from glaucli.safety import output_file

    output_file(dest, [src, *([labels] if labels else []), *(p for p, _, _ in found.entries)], "DEST", (".csv",))
    if found.splits():
        console.info(f"{found.root} already has splits ({', '.join(found.splits())}); splitting every image anew")
    labels_of = [label for _, label, _ in found.entries]
    splits = assign(labels_of, val, test, seed, found.groups)
    entries = [(path, label, s) for (path, label, _), s in zip(found.entries, splits)]
    write_manifest_csv(dest, entries, found.groups)
    counts = Collection(entries, dest, "manifest", spec, found.classes).counts()
    console.info(f"Manifest saved to {dest}; use it as --data {dest}")
    if json_out:
        console.emit_json({"manifest": str(dest), "counts": counts, "seed": seed,
                           "grouped_by": group_column, "source": found.describe()})
    else:
        console.emit(counts_table(counts, title=f"Split of {escape(str(found.root))}"))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(split)
