"""The ``synthclf`` command.

    synthclf tasks list [--json]           the task catalog and which tasks have data here
    synthclf tasks init DATA | publish FILE  draft a task file from your data / publish it
    synthclf datasets upload|import|export   your own data in and out (cli_data.py)
    synthclf serve all|<service> [...]     host services (all four in one process: embedded default)
    synthclf health --address HOST:PORT    exit 0 when grpc.health.v1 says SERVING
    synthclf llm serve | path              the local llama.cpp server (Qwen2.5-Coder-1.5B-Instruct)
    synthclf run [--task sms_spam] [...]   the main job: the experiment flow (+ learning curve, verdict) embedded
    synthclf experiment --preset paper-offline [...]   a study over tasks × sources, Table 1 + report
    synthclf predict --model NAME "text" …  classify texts with a served model (label + probabilities)
    synthclf models list|load|unload        the inference service's live model versions
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import Any

from synthclf.core.allocator import limit_malloc_arenas
from synthclf.core.config import get_settings
from synthclf.core.errors import InvalidInput, SynthclfError

log = logging.getLogger("synthclf")


def _tasks(args: argparse.Namespace) -> int:
    if args.action != "list":
        from synthclf.cli_data import tasks_command

        return tasks_command(args)
    from synthclf.core.catalog import load_catalog
    from synthclf.core.corpora import data_available

    rows: list[dict[str, Any]] = [{"name": t.name, "title": t.title, "labels": t.label_names, "subjectivity": t.subjectivity,
             "public_dataset": t.public_dataset, "stand_in_for": t.stand_in_for,
             "data_available": data_available(t)} for t in load_catalog().values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'task':<24} {'subj.':<6} {'data here':<10} labels")
    for r in rows:
        stars = "★" * (r["subjectivity"] or 0) or "–"
        here = "yes" if r["data_available"] else "no"
        print(f"{r['name']:<24} {stars:<6} {here:<10} {', '.join(r['labels'])}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from synthclf.cli_data import datasets_command

    return datasets_command(args)


def _serve(args: argparse.Namespace) -> int:
    from synthclf.server import serve_forever

    serve_forever([args.service], get_settings(), args.host, args.port)
    return 0


def _health(args: argparse.Namespace) -> int:
    from synthclf.clients import wait_serving

    wait_serving(args.address, args.service, timeout_s=args.timeout)
    print(f"{args.address}: SERVING")
    return 0


def _llm(args: argparse.Namespace) -> int:
    from synthclf.llm_server import LocalLLMServer, local_model

    settings = get_settings()
    model = local_model(settings.llm_local_model)
    if args.action == "path":
        print(model.locate(settings.cache_dir))
        return 0
    import threading

    with LocalLLMServer(settings.cache_dir, host=args.host, port=args.port, model=model.alias,
                        threads=settings.llm_threads or None) as server:
        print(f"local LLM serving at {server.base_url} (model {model.alias}: {model.title}, "
              f"{model.prompt_style} prompts, one slot); Ctrl-C stops it", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    return 0


def _run_experiment(config, prepare=None):
    """Run the experiment flow on the configured services, or on the embedded default.

    ``prepare(endpoints, config) -> config`` runs first on the started services (publishing a
    user's task and data: :func:`synthclf.cli_data.user_task_preparer`)."""
    # Defaults for Prefect's temporary API server (started on first use, inheriting this
    # environment), set before Prefect is imported because it reads its settings then:
    # - its first start migrates a new database, which takes more than Prefect's default 20 s
    #   wait on a 2-vCPU machine (a first `make run` failed with "Timed out while attempting to
    #   connect to ephemeral Prefect API server");
    # - it tells a job waiting for a concurrency slot to retry after up to this many seconds
    #   (default 30): jobs here run one after another, so a long interval is idle CPU.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS", "5")
    from orchestration.flows import experiment
    from synthclf.embedded import embedded_stack

    # SIGTERM unwinds like Ctrl-C, so the LLM server, the services and Prefect's temporary
    # API server started below are stopped, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with embedded_stack(get_settings(), llm=bool(config.synthetic_modes())) as endpoints:
        if prepare is not None:
            config = prepare(endpoints, config)
        return experiment(config, endpoints=endpoints)


def _print_report_location(report_uri: str) -> None:
    from synthclf.core.artifacts import split_uri

    location, kind, artifact_id = split_uri(report_uri)
    if location.startswith("file://"):
        folder = f"{location[len('file://'):]}/{kind}/{artifact_id}"
        print(f"report: {folder}/report.md\nreport (HTML, with figures): {folder}/report.html")
    else:
        print(f"report: {report_uri} (report.md, report.html)")


def _curve_overrides(args: argparse.Namespace) -> dict:
    """The learning-curve options given on the command line."""
    return {key: value for key, value in {
        "sizes": args.curve_sizes, "seeds": args.curve_seeds, "stretch_sizes": args.stretch_sizes,
        "delta": args.delta, "label_cost_usd": args.label_cost,
        "enabled": False if args.no_curve else None}.items() if value is not None}


def _print_answer(result) -> None:
    from orchestration.results import verdict_markdown

    if result.verdicts:
        print("Verdict\n\n" + verdict_markdown(result.verdicts))
    print("Table 1\n\n" + result.table)
    _print_report_location(result.report_uri)


def _run(args: argparse.Namespace) -> int:
    from orchestration.config import ExperimentConfig, GenerationOptions, LearningCurveOptions, TrainingOptions
    from orchestration.presets import RUN_CURVE
    from synthclf.cli_data import user_task_preparer

    curve = LearningCurveOptions.model_validate({**RUN_CURVE.model_dump(), **_curve_overrides(args)})
    config = ExperimentConfig(tasks=[args.task], real_train_rows=args.real_train_rows, test_rows=args.test_rows,
                              data_seed=args.seed, seeds=[args.seed],
                              generation=GenerationOptions(rows_per_label=args.rows_per_label),
                              training=TrainingOptions(epochs=args.epochs), curve=curve)
    _print_answer(_run_experiment(config, user_task_preparer(args)))
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from orchestration.presets import resolve_config
    from synthclf.cli_data import user_task_preparer

    overrides = {key: value for key, value in {
        "tasks": args.tasks, "sources": args.sources, "backbones": args.backbones, "seeds": args.seeds,
        "test_rows": args.test_rows, "real_train_rows": args.real_train_rows, "max_texts": args.max_texts,
        "generation": None if args.rows_per_label is None else {"rows_per_label": args.rows_per_label},
        "training": None if args.epochs is None else {"epochs": args.epochs},
        "curve": _curve_overrides(args) or None,
    }.items() if value is not None}
    _print_answer(_run_experiment(resolve_config(preset=args.preset, overrides=overrides), user_task_preparer(args)))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from synthclf.clients import InferenceClient

    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    with InferenceClient(args.address) as client:
        response = client.predict(args.model, texts, model_version=args.version)
    labels = list(response.labels)
    rows = [{"text": text, "label": p.label,
             "probabilities": dict(zip(labels, (round(x, 6) for x in p.probabilities)))}
            for text, p in zip(texts, response.predictions)]
    if args.json:
        print(json.dumps({"model": args.model, "version": response.model_version,
                          "labels": labels, "predictions": rows}, indent=2))
        return 0
    print(f"model {args.model} v{response.model_version}")
    for row in rows:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in row["probabilities"].items())
        print(f"{row['label']:<12} {shown}  {row['text'][:60]}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from synthclf.clients import InferenceClient

    with InferenceClient(args.address) as client:
        if args.action == "load":
            if not (args.name and args.uri):
                raise InvalidInput("synthclf models load needs NAME and URI")
            models = [client.load_model(args.name, args.uri)]
        elif args.action == "unload":
            if not args.name:
                raise InvalidInput("synthclf models unload needs NAME (and optionally --version)")
            models = client.unload_model(args.name, model_version=args.version)
        else:
            models = client.list_models()
    rows: list[dict[str, Any]] = [{"name": m.name, "version": m.version, "labels": list(m.labels),
             "execution_provider": m.execution_provider, "max_length": m.max_length,
             "artifact": m.artifact.uri, "loaded_at": m.loaded_at} for m in models]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    verb = {"load": "loaded", "unload": "unloaded"}.get(args.action, "live")
    if not rows:
        print("no models loaded")
    for r in rows:
        print(f"{verb} {r['name']} v{r['version']}  {r['execution_provider']}  max_length "
              f"{r['max_length']}  labels {', '.join(r['labels'])}  {r['artifact']}")
    return 0


def _curve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the learning curve, the mixed models and the verdict (docs/analysis.md)."""
    parser.add_argument("--curve-sizes", nargs="+", type=int, help="real rows per label of the learning curve "
                        "(default: run 8 16 32; experiment 8, 16, … up to the training split)")
    parser.add_argument("--curve-seeds", nargs="+", type=int, help="seeds per curve point and mixed model (≥ 3)")
    parser.add_argument("--stretch-sizes", nargs="*", type=int, help="k real rows per label mixed with each "
                        "synthetic set (default: the curve's two smallest sizes; none: no mixed models)")
    parser.add_argument("--delta", type=float, help="margin δ in Macro-F1 of the verdict (default 0.02)")
    parser.add_argument("--label-cost", type=float, help="price of one human label in US$: adds the cost per "
                        "equivalent real label (default: unset)")
    parser.add_argument("--no-curve", action="store_true", default=None,
                        help="no learning curve, mixed models or equivalents (the verdict can then only say replace)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``synthclf`` command."""
    parser = argparse.ArgumentParser(prog="synthclf", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    from synthclf.cli_data import EXPORT_FORMATS, add_data_arguments

    tasks = sub.add_parser("tasks", help="the task catalog; draft and publish your own task")
    tasks.add_argument("action", choices=["list", "init", "publish"])
    tasks.add_argument("path", nargs="?", help="init: your data file; publish: your task file")
    tasks.add_argument("--json", action="store_true", help="list: machine-readable output")
    tasks.add_argument("--text-column", default="text", help="init: column with the texts")
    tasks.add_argument("--label-column", default="label", help="init: column with the labels")
    tasks.add_argument("--name", default="", help="init: task name (default: from the file name)")
    tasks.set_defaults(func=_tasks)

    data = sub.add_parser("datasets", help="upload, import and export datasets (your own data)")
    data.add_argument("action", choices=["upload", "import", "export"])
    data.add_argument("path", help="upload/import: your data file or save_to_disk folder; export: a dataset URI")
    data.add_argument("out", nargs="?", help="export: the output file (folder for hf)")
    data.add_argument("--format", default="", help=f"export: {'|'.join(EXPORT_FORMATS)}")
    data.add_argument("--task", default="", help="import: catalog task name or task URI")
    data.add_argument("--task-file", default="", help="import: your task file (published first)")
    data.add_argument("--test-fraction", type=float, default=0.2, help="import: test share of a stratified split")
    data.add_argument("--seed", type=int, default=0, help="import: seed of the split")
    add_data_arguments(data, task_file=False)
    data.set_defaults(func=_datasets)

    serve = sub.add_parser("serve", help="host services over gRPC")
    serve.add_argument("service", choices=["all", "generation", "training", "inference", "analysis"])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=50051)
    serve.set_defaults(func=_serve)

    health = sub.add_parser("health", help="check grpc.health.v1 of a server")
    health.add_argument("--address", default="127.0.0.1:50051")
    health.add_argument("--service", default="", help="fully-qualified service name; '' = server")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds")
    health.set_defaults(func=_health)

    llm = sub.add_parser("llm", help="the local llama.cpp LLM server")
    llm.add_argument("action", choices=["serve", "path"])
    llm.add_argument("--host", default="127.0.0.1")
    llm.add_argument("--port", type=int, default=8000)
    llm.set_defaults(func=_llm)

    run = sub.add_parser("run", help="the main job: real vs zero-shot vs few-shot on one task")
    run.add_argument("--task", default="sms_spam")
    run.add_argument("--rows-per-label", type=int, default=30, help="synthetic rows per label and mode "
                     "(30: make run stays within about 20 min with the default local LLM; README)")
    run.add_argument("--real-train-rows", type=int, default=0, help="0 = matched to a synthetic set")
    run.add_argument("--test-rows", type=int, default=0, help="0 = whole real test split")
    run.add_argument("--epochs", type=int, default=3)
    run.add_argument("--seed", type=int, default=0)
    _curve_arguments(run)
    add_data_arguments(run)
    run.set_defaults(func=_run)

    study = sub.add_parser("experiment", help="a study: tasks × data sources × backbones × seeds, "
                           "Table 1 and the full report (Prefect flow 'experiment')")
    study.add_argument("--preset", default="paper-offline",
                       help="named configuration: paper-offline, smoke, … (orchestration/presets.py; "
                       "an unknown name is refused with the list)")
    study.add_argument("--tasks", nargs="+", help="catalog tasks (default: the preset's)")
    study.add_argument("--sources", nargs="+", help="real, zero_shot, few_shot or mixtures such as real:100+few_shot")
    study.add_argument("--backbones", nargs="+", help="encoders; '' = all-MiniLM-L6-v2")
    study.add_argument("--seeds", nargs="+", type=int, help="training seeds")
    study.add_argument("--rows-per-label", type=int, help="synthetic rows per label and mode")
    study.add_argument("--real-train-rows", type=int, help="0 = matched to a synthetic set")
    study.add_argument("--test-rows", type=int, help="0 = whole real test split")
    study.add_argument("--epochs", type=int, help="training epochs")
    study.add_argument("--max-texts", type=int, help="texts per dataset in the analyses")
    _curve_arguments(study)
    add_data_arguments(study)
    study.set_defaults(func=_experiment)

    predict = sub.add_parser("predict", help="classify texts with a model of the inference service")
    predict.add_argument("--model", required=True, help="model name")
    predict.add_argument("--version", type=int, default=0, help="model version; 0 = newest")
    predict.add_argument("--address", default=None, help="inference host:port (default: settings)")
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    predict.add_argument("texts", nargs="*", help="texts to classify (none: one per line on stdin)")
    predict.set_defaults(func=_predict)

    models = sub.add_parser("models", help="list, load or unload models of the inference service")
    models.add_argument("action", choices=["list", "load", "unload"])
    models.add_argument("name", nargs="?", help="model name (load, unload)")
    models.add_argument("uri", nargs="?", help="onnx-model artifact URI (load)")
    models.add_argument("--version", type=int, default=0, help="unload: version; 0 = every version")
    models.add_argument("--address", default=None, help="inference host:port (default: settings)")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(func=_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with a one-line message on a synthclf error)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `datasets export URI --format F OUT`: argparse leaves a positional after an option unmatched.
    if extra and getattr(args, "out", "") is None and len(extra) == 1 and not extra[0].startswith("-"):
        args.out, extra = extra[0], []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=get_settings().log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "httpx2"):  # one line per LLM request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        limit_malloc_arenas(get_settings())  # this process and the ones it starts (LLM server)
        return args.func(args)
    except SynthclfError as exc:
        print(f"synthclf: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
