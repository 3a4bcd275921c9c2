"""The work: plain functions that return results and know nothing of Typer."""
