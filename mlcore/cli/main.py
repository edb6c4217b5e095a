"""The `python -m mlcore` command line: the entry and the dispatch; each command lives in its own module.

python -m mlcore --help lists them; every command's module opens with its usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from mlcore import __version__
from mlcore.cli.augmentation import add_augmentation_parser
from mlcore.cli.cluster import add_cluster_parser
from mlcore.cli.datasets import add_dataset_parser
from mlcore.cli.evaluate import add_evaluate_parser
from mlcore.cli.explain import add_explain_parser
from mlcore.cli.export import add_export_parser
from mlcore.cli.follow import EXIT_USAGE, fail
from mlcore.cli.jobs import add_jobs_parser
from mlcore.cli.models import add_models_parser
from mlcore.cli.pipeline import add_pipeline_parser
from mlcore.cli.predict import add_predict_parser
from mlcore.cli.quality import add_quality_parsers
from mlcore.cli.runs import add_runs_parser, add_visualize_parser
from mlcore.cli.serve import add_app_parser, add_serve_parser
from mlcore.cli.storage import add_storage_parser
from mlcore.cli.system import add_system_parsers
from mlcore.cli.track import add_track_parsers
from mlcore.cli.train import add_train_parsers
from mlcore.cli.tuning import add_tuning_parser
from mlcore.cli.validate import add_validate_parser
from mlcore.core.settings import SettingsError, load_settings

# In the order `--help` lists them.
COMMANDS = (
    add_system_parsers,
    add_validate_parser,
    add_train_parsers,
    add_runs_parser,
    add_evaluate_parser,
    add_export_parser,
    add_explain_parser,
    add_visualize_parser,
    add_jobs_parser,
    add_app_parser,
    add_predict_parser,
    add_track_parsers,
    add_models_parser,
    add_cluster_parser,
    add_tuning_parser,
    add_pipeline_parser,
    add_quality_parsers,
    add_dataset_parser,
    add_augmentation_parser,
    add_storage_parser,
    add_serve_parser,
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that point to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcore", description="ML Studio: validate datasets, train and evaluate YOLO models.")
    parser.add_argument("--version", action="version", version=f"mlcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # file names that are not valid UTF-8 still print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return fail(str(exc), EXIT_USAGE)
    return int(args.func(args, settings))
