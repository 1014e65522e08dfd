"""The ``synthclf`` commands for a user's own task and data (README, "Your own task").

    synthclf tasks init DATA [--text-column C --label-column L --name N] > task.yaml
    synthclf tasks publish task.yaml                 validate, draft missing prompts, print the task URI
    synthclf datasets upload DATA                    stream a file into the store, print the upload URI
    synthclf datasets import DATA --task-file task.yaml [...]   validate and publish train/test datasets
    synthclf datasets export URI --format csv|jsonl|parquet|hf OUT
    synthclf run|experiment --task-file task.yaml --data DATA [...]

Every command talks to the generation service: the configured one, or (no ``SYNTHCLF_*ADDRESS``
set) an in-process one on the local store, like ``synthclf run``. Files travel over gRPC
(``Upload``/``Download``); no command needs the S3 SDK or a path on a server.
"""

from __future__ import annotations

import argparse
import collections
import math
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput, NotFound
from synthclf.core.task_spec import DEFAULT_MAX_WORDS, PLACEHOLDER_PREFIX, label_key

if TYPE_CHECKING:
    from synthclf.client_types import ImportResult, PublishTaskResult
    from synthclf.clients import GenerationClient

EXPORT_FORMATS = ("csv", "jsonl", "parquet", "hf")
#: Texts sampled for the language and length `tasks init` writes.
SAMPLE_TEXTS = 500


def add_data_arguments(parser: argparse.ArgumentParser, *, task_file: bool = True) -> None:
    """The options naming a user's task file, data files and columns."""
    if task_file:
        parser.add_argument("--task-file", help="your task (YAML; `synthclf tasks init DATA` drafts one)")
        parser.add_argument("--data", help="your labelled data: .csv/.tsv/.jsonl/.json/.parquet or a save_to_disk folder")
    parser.add_argument("--test-data", default="", help="a separate test file (then --data is all training data)")
    parser.add_argument("--text-column", default="text", help="column with the texts (default: text)")
    parser.add_argument("--label-column", default="label", help="column with the labels (default: label)")
    parser.add_argument("--split-column", default="", help="column with train/test per row (default: a stratified split)")
    parser.add_argument("--agreement-column", default="", help="column with annotator agreement in [0, 1]")
    parser.add_argument("--annotations-column", default="", help="column with a list of per-annotator labels")


def _columns(args: argparse.Namespace) -> dict[str, str]:
    return {"text": args.text_column, "label": args.label_column, "split": args.split_column,
            "agreement": args.agreement_column, "annotations": args.annotations_column}


@contextmanager
def _generation():
    """A GenerationClient on the configured service, or on an in-process one."""
    from synthclf.clients import GenerationClient
    from synthclf.embedded import embedded_stack

    with embedded_stack(get_settings(), llm=False) as endpoints, GenerationClient(endpoints.generation) as client:
        yield client


def _read_task_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFound(f"cannot read task file '{path}': {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"task file '{path}' is not UTF-8 text") from None


def publish_task_file(client: GenerationClient, path: str) -> PublishTaskResult:
    """Publish a task file and print what was drafted; returns the published task."""
    response = client.publish_task(_read_task_file(path), source=Path(path).name)
    if response.drafted:
        print(f"drafted {', '.join(response.drafted)} for task file {path}; review the wording:")
        for key in sorted(response.prompts):
            print(f"  {key}: {response.prompts[key]}")
    return response


# --------------------------------------------------------------------------- tasks init


def _local_table(path: Path, scratch: Path):
    """The rows of a local data file, read with HF datasets like the service reads uploads."""
    import datasets

    from synthclf.generation.data_files import open_sources
    from synthclf.generation.uploads import file_format

    if not path.exists():
        raise NotFound(f"no such file or folder: {path}")
    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        return loaded["train"] if isinstance(loaded, datasets.DatasetDict) else loaded
    sources = open_sources(path, file_format(path.name), path.name, scratch)
    return sources[0].dataset


def draft_task(path: Path, text_column: str = "text", label_column: str = "label", name: str = "") -> str:
    """A task file drafted from a data file: labels with counts, language, typical length.

    Label descriptions are placeholders starting with ``REVIEW:`` (a task still carrying one is
    refused), so a person writes what each label means before anything is generated.

    Returns:
        The YAML text, with a comment header saying what to review.

    Raises:
        InvalidInput: a column is missing, or fewer than 2 label values. NotFound: no such file.
    """
    from langdetect import DetectorFactory, LangDetectException, detect

    with tempfile.TemporaryDirectory(prefix="synthclf-init-") as scratch:
        table = _local_table(path, Path(scratch))
        missing = [c for c in (text_column, label_column) if c not in table.column_names]
        if missing:
            raise InvalidInput(f"file '{path.name}' has no column {', '.join(repr(c) for c in missing)}; "
                               f"columns found: {', '.join(table.column_names)}")
        counts = collections.Counter(str(v).strip() for v in table[label_column] if v is not None and str(v).strip())
        step = max(1, table.num_rows // SAMPLE_TEXTS)
        texts = [str(t) for t in table.select(range(0, table.num_rows, step))[text_column] if t]
    if len(counts) < 2:
        raise InvalidInput(f"column '{label_column}' of '{path.name}' has {len(counts)} label value(s); a task needs 2 or more")
    DetectorFactory.seed = 0
    try:
        language = detect(" ".join(texts[:200])[:20_000])
    except LangDetectException:
        language = "en"
    words = sorted(len(t.split()) for t in texts) or [DEFAULT_MAX_WORDS]
    p90 = words[min(len(words) - 1, math.ceil(0.9 * len(words)) - 1)]
    labels = []
    for value, count in counts.most_common():
        label: dict[str, Any] = {"name": label_key(value),
                                 "description": f"{PLACEHOLDER_PREFIX} what {value} means ({count} rows)"}
        if label["name"] != value:
            label["values"] = [value]
        labels.append(label)
    document = {"name": name or label_key(path.stem), "title": path.stem.replace("_", " "),
                "domain": "", "text_type": "text", "language": language[:2],
                "max_words": max(5, min(400, p90)), "labels": labels}
    header = (f"# Task drafted by `synthclf tasks init` from {path.name}: {sum(counts.values())} labelled rows, "
              f"{len(counts)} labels, median {words[len(words) // 2]} words per text (max_words: the 90th percentile).\n"
              "# Review before running: describe every label (its description goes into the prompt), set domain\n"
              "# (e.g. 'customer support') and text_type (e.g. 'support ticket'). context_prompt and\n"
              "# generation_prompt are drafted from them when left out; set them to use your own wording.\n")
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


# --------------------------------------------------------------------------- commands


def tasks_command(args: argparse.Namespace) -> int:
    """``synthclf tasks init|publish``."""
    if not args.path:
        raise InvalidInput(f"synthclf tasks {args.action} needs a {'data file' if args.action == 'init' else 'task file'}")
    if args.action == "init":
        print(draft_task(Path(args.path), args.text_column, args.label_column, args.name), end="")
        return 0
    with _generation() as client:
        print(publish_task_file(client, args.path).task.uri)
    return 0


def _print_import(response: ImportResult) -> None:
    for warning in response.warnings:
        print(f"warning: {warning}")
    print(f"train: {response.train.uri}\ntest: {response.test.uri}")


def datasets_command(args: argparse.Namespace) -> int:
    """``synthclf datasets upload|import|export``."""
    with _generation() as client:
        if args.action == "upload":
            print(client.upload(args.path).upload.uri)
        elif args.action == "import":
            if not (args.task or args.task_file):
                raise InvalidInput("synthclf datasets import needs --task NAME_OR_URI or --task-file FILE")
            task = args.task or publish_task_file(client, args.task_file).task.uri
            upload = client.upload(args.path).upload.uri
            test = client.upload(args.test_data).upload.uri if args.test_data else ""
            _print_import(client.import_real_data(task, upload_uri=upload, test_upload_uri=test,
                                                  columns=_columns(args), test_fraction=args.test_fraction,
                                                  seed=args.seed))
        else:
            if args.format not in EXPORT_FORMATS or not args.out:
                raise InvalidInput(f"synthclf datasets export URI --format {'|'.join(EXPORT_FORMATS)} OUT")
            print(export_dataset(client, args.path, args.format, Path(args.out)))
    return 0


def export_dataset(client: GenerationClient, uri: str, fmt: str, out: Path) -> Path:
    """Write a dataset artifact as CSV, JSON lines, Parquet or a save_to_disk folder (HF datasets)."""
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="synthclf-export-") as scratch:
        local = client.download(uri, Path(scratch) / "data.jsonl")
        table = datasets.Dataset.from_json(str(local), cache_dir=str(Path(scratch) / "cache"))
        if fmt == "csv":
            if "annotations" in table.column_names:  # lists do not fit a CSV cell: JSON text
                import json

                table = table.map(lambda row: {"annotations": json.dumps(row["annotations"])
                                               if row["annotations"] is not None else None})
            table.to_csv(str(out), index=False)
        elif fmt == "jsonl":
            table.to_json(str(out), lines=True, force_ascii=False)
        elif fmt == "parquet":
            table.to_parquet(str(out))
        else:
            table.save_to_disk(str(out))
    return out


def user_task_preparer(args: argparse.Namespace) -> Callable | None:
    """For ``run``/``experiment`` with ``--task-file``/``--data``: a function that publishes the
    task, uploads the data, validates the import (printing warnings) and points the config at
    them; None without those options.

    Raises:
        InvalidInput: only one of --task-file and --data.
    """
    if not (args.task_file or args.data):
        return None
    if not (args.task_file and args.data):
        raise InvalidInput("give both --task-file and --data (your task and your labelled data)")

    def prepare(endpoints, config):
        """Publish, upload and import through the running services; return the config to run."""
        from orchestration.config import UserData
        from synthclf.clients import GenerationClient

        with GenerationClient(endpoints.generation) as client:
            published = publish_task_file(client, args.task_file)
            task = published.task.uri
            labels = sum(key.startswith("label:") for key in published.prompts)
            data = UserData(upload_uri=client.upload(args.data).upload.uri,
                            test_upload_uri=client.upload(args.test_data).upload.uri if args.test_data else "",
                            **{f"{k}_column": v for k, v in _columns(args).items()})
            _print_import(client.import_real_data(task, upload_uri=data.upload_uri,
                                                  test_upload_uri=data.test_upload_uri, columns=data.columns(),
                                                  max_train_rows=config.train_rows_for(labels),
                                                  max_test_rows=config.test_rows, seed=config.data_seed))
        return config.model_copy(update={"tasks": [task], "user_data": {task: data}})

    return prepare
