"""glaucli download [DATASET]: the EyePACS-AIROGS-light dataset via the Kaggle API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from glaucli import config, console
from glaucli.cli import options


def download(
    dataset: Annotated[str, typer.Argument(
        help="v2 (EyePACS-AIROGS-light v2, 512 px), v1 (the original project's, 256 px), or owner/slug.")] = "v2",
    name: Annotated[Optional[str], typer.Option("--name", help="Folder name under the data dir \\[default: v2/v1/slug/zip stem].")] = None,
    variant: options.Variant = None,
    force: Annotated[bool, typer.Option("--force", help="Download again; the old tree stays until the new one is complete.")] = False,
    from_zip: Annotated[Optional[Path], typer.Option("--from-zip", help="Install an archive downloaded by hand (offline).")] = None,
    data_dir: options.DataDir = None,
    json_out: options.Json = False,
    quiet: options.Quiet = False,
) -> None:
    """Download a dataset from Kaggle (resumable) into DATA_DIR/NAME/{train,validation,test}/{NRG,RG}.

    Credentials, first found wins: $KAGGLE_API_TOKEN, ~/.kaggle/access_token, $KAGGLE_USERNAME + $KAGGLE_KEY, $KAGGLE_CONFIG_DIR/kaggle.json, ~/.kaggle/kaggle.json, ~/.config/kaggle/kaggle.json. Offline: download the zip elsewhere and use --from-zip FILE.zip.
    """
    options.apply(quiet)
    from glaucli.cli.render import EventPrinter, counts_table
    from glaucli.data import download

    root = config.data_dir(data_dir)
    # The extraction's bar closes the download's (one bar at a time).
    with EventPrinter({"download": "Downloading", "extract": "Extracting"}) as show:
        if from_zip is not None:
            result = download.install_zip(from_zip, root, name, variant, force, on_event=show)
        else:
            result = download.download(dataset, root, name, variant, force, on_event=show)
    if result.already_complete:
        console.info(f"{result.path} is already complete; nothing to do (--force downloads again)")
    else:
        console.info(f"Dataset saved to {result.path}")
    if json_out:
        console.emit_json({"path": str(result.path), "already_complete": result.already_complete,
                           "source": result.source, "counts": result.counts})
    else:
        console.emit(counts_table(result.counts, title=f"Dataset {console.escape(result.path)}"))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(download)
