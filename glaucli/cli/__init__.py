"""Thin Typer commands: parse, call the engine, print. One module per command."""
