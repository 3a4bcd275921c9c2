"""The root Typer app: global flags, command registration, error -> exit code."""

from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager

import typer
from typer.core import TyperGroup

from glaucli import __version__, config, console
from glaucli.errors import GlaucliError, Interrupted, UsageError
from glaucli.secrets import scrub


class GlaucliGroup(TyperGroup):
    """Turns known failures into `Error: ...` and the exit code of DESIGN.md's rule."""

    def make_context(self, info_name, args, parent=None, **extra):
        # Root-level parse errors (`glaucli --bogus`) happen here, before invoke().
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        try:
            with _one_line_usage_errors():
                return super().invoke(ctx)
        except GlaucliError as exc:
            hint = exc.hint
            if hint is None and isinstance(exc, UsageError):  # a usage error always says where to look
                hint = f"see `glaucli {ctx.invoked_subcommand or ''} --help`".replace("  ", " ")
            _report(exc.message, hint, exc)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            _report("interrupted", None, exc)
            ctx.exit(Interrupted.exit_code)
        except BrokenPipeError:  # `glaucli ... | head`: the reader has all it wanted
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
            if _is_click_exception(exc):
                raise
            message = f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            _report(message.rstrip(": "), "set GLAUCLI_DEBUG=1 for the traceback", exc)
            ctx.exit(1)


def _parser_usage_error() -> type[Exception]:
    """The parser's UsageError class, through Typer's public API only: Typer < 0.26 re-exports
    Click's BadParameter, Typer >= 0.26 its vendored copy; either way its base is UsageError.
    So glaucli imports neither `click` (no longer installed with Typer >= 0.26) nor a private
    Typer module."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


@contextmanager
def _one_line_usage_errors():
    """A bad flag or value is one `Error:` line and a hint (exit 2), not Typer's boxed panel."""
    try:
        yield
    except _parser_usage_error() as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            raise  # `glaucli` alone: the help, as the parser shows it
        command = exc.ctx.command_path if exc.ctx is not None else "glaucli"
        message = exc.format_message()
        if message[1:2].islower():  # click's "Invalid value" -> "invalid value", as glaucli's own lines
            message = message[0].lower() + message[1:]
        _report(message, f"see `{command} --help`", exc)
        raise typer.Exit(exc.exit_code) from None


def _is_click_exception(exc: Exception) -> bool:
    """Usage errors raised by the parser: Typer reports them itself (exit 2)."""
    return hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int)


def _report(message: str, hint: str | None, exc: BaseException) -> None:
    if config.debug_enabled():
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(scrub(text))
    from rich.markup import escape

    console.err.print(f"[bold red]Error:[/] {escape(scrub(message))}", highlight=False)
    if hint:
        console.err.print(f"[dim]Hint: {escape(scrub(hint))}[/]")


app = typer.Typer(
    name="glaucli",
    cls=GlaucliGroup,
    help="Glaucoma screening from fundus photographs: download, train, evaluate, predict.\n\n"
         "Research use only: not a diagnostic device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.emit_line(f"glaucli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or info lines on stderr."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="More detail on stderr, TensorFlow's own logs included."),
) -> None:
    console.reset()
    console.configure(quiet=quiet, verbose=verbose)
    from glaucli import tf

    tf.set_verbose(verbose or None)  # without --verbose, GLAUCLI_VERBOSE still decides
    tf.enable_onednn_for_cli()  # faster training where TensorFlow leaves oneDNN off (issue 35)
    if not verbose:
        import warnings

        # Keras' UserWarnings (e.g. "shuffle=True ... ignored") are noise for CLI users; the
        # filter is the CLI's, so the Python API leaves the process's filters alone.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"keras(\.|$)")


def _register() -> None:
    from glaucli.cli import (
        backbones,
        bench,
        calibrate,
        calibrate_ood,
        compare,
        data,
        demo,
        download,
        ensemble,
        evaluate,
        export,
        info,
        predict,
        report,
        runs,
        sample,
        split,
        train,
    )

    for module in (demo, download, sample, data, split, train, evaluate, predict, calibrate, calibrate_ood, report,
                   ensemble, compare, export, backbones, runs, info, bench):
        module.register(app)


_register()


def main() -> None:
    try:
        app(prog_name="glaucli")
    except KeyboardInterrupt:
        console.err.print("[bold red]Error:[/] interrupted")
        sys.exit(Interrupted.exit_code)
