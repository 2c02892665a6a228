"""`finsent backends|train|jobs|follow|cancel|results|models|add-model|evaluate`: training from the CLI."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsent.cli.output import print_evaluation, print_table, service, warn_plugin_problems
from finsent.service import InputError, Text

if TYPE_CHECKING:  # imported when a command runs: parsing flags must stay light
    from finsent.service import DatasetRecord, FinsentService, JobRecord

#: train flags written by hand; generated option flags never take these names
_FIXED = {"backend", "data", "follow", "option", "base_model", "epochs", "interval", "help"}


def _option_fields() -> dict[str, tuple[str, list[str]]]:
    """Option field -> (help, backends having it), over every registered backend's Options."""
    from finsent.service import load_backends

    fields: dict[str, tuple[str, list[str]]] = {}
    try:
        registry = load_backends()
    except Exception:  # a broken environment must not break `finsent --help`
        return fields
    for name, backend_class in registry.backends.items():
        for field_name, info in backend_class.Options.model_fields.items():
            if field_name in _FIXED:
                continue
            help_text, owners = fields.get(field_name, (info.description or "", []))
            fields[field_name] = (help_text, [*owners, name])
    return fields


class TrainParser(argparse.ArgumentParser):
    """`finsent train`'s parser: the flags generated from every backend's Options are added only when
    `train` itself is parsed or its help shown, because building them loads every plugin (and what they
    import), which `finsent --version` or `finsent prepare` must not pay for."""

    _generated = False

    def add_backend_options(self) -> None:
        if self._generated:
            return
        self._generated = True
        group = self.add_argument_group("backend options (validated by the chosen backend)")
        for field_name, (help_text, owners) in sorted(_option_fields().items()):
            group.add_argument(
                f"--{field_name.replace('_', '-')}",
                dest=f"opt__{field_name}",
                metavar="V",
                default=argparse.SUPPRESS,
                help=f"{help_text} [{', '.join(owners)}]",
            )

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def,override]
        self.add_backend_options()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.add_backend_options()
        return super().format_help()


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("backends", help="list the model backends, whether each is usable and why not")
    p.set_defaults(func=run_backends)

    p = subparsers.add_parser(
        "train",
        help="start a training job from a prepared folder",
        description="Start a training job on DIR (the output of `finsent prepare`) and print its id.",
    )
    p.add_argument("--backend", required=True, metavar="B", help="backend name (see `finsent backends`)")
    p.add_argument("--data", required=True, metavar="DIR", help="prepared folder (or a dataset id)")
    p.add_argument("--base-model", metavar="M", help="base model to train from")
    p.add_argument("--epochs", type=int, metavar="N", help="training epochs")
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="any backend option (repeatable)"
    )
    p.add_argument("--follow", action="store_true", help="stream events and metrics until the job ends")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (2)")
    p.__class__ = TrainParser  # same object, generated flags added on first parse (see TrainParser)
    p.set_defaults(func=run_train)

    p = subparsers.add_parser("jobs", help="list training jobs, newest first (unfinished ones are refreshed)")
    p.set_defaults(func=run_jobs)

    p = subparsers.add_parser(
        "follow", help="stream a job's events and metrics until it ends (Ctrl-C detaches)"
    )
    p.add_argument("job", metavar="JOB", help="job id or unique name")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (2)")
    p.set_defaults(func=run_follow)

    p = subparsers.add_parser(
        "resume",
        help="continue an interrupted training job from its last checkpoint (backends that keep them)",
    )
    p.add_argument("job", metavar="JOB", help="job id or unique name")
    p.add_argument("--follow", action="store_true", help="stream events and metrics until the job ends")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (2)")
    p.set_defaults(func=run_resume)

    p = subparsers.add_parser("cancel", help="cancel a training job")
    p.add_argument("job", metavar="JOB", help="job id or unique name")
    p.set_defaults(func=run_cancel)

    p = subparsers.add_parser("results", help="a job's metric history (CSV) and final classification metrics")
    p.add_argument("job", metavar="JOB", help="job id or unique name")
    p.add_argument("-o", "--output", metavar="FILE", help="write the metric history CSV here")
    p.set_defaults(func=run_results)

    p = subparsers.add_parser("models", help="list the models finsent can classify with")
    p.add_argument("--backend", metavar="B")
    p.set_defaults(func=run_models)

    p = subparsers.add_parser(
        "add-model",
        help="record a model not trained here (existing fine-tuned, zero/few-shot, compatible server)",
        description="Record a model not trained with finsent so that it can classify and be evaluated.\n\n"
        "examples (B: a backend that has such models, see `finsent backends`):\n"
        "  finsent add-model --backend B --model MODEL_ID --data prepared/        a model fine-tuned elsewhere\n"
        "  finsent add-model --backend B --model CHAT_MODEL --mode zero-shot\n"
        "  finsent add-model --backend B --model CHAT_MODEL --mode few-shot --data prepared/ --per-label 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--backend", required=True, metavar="B")
    p.add_argument("--model", required=True, metavar="M")
    p.add_argument("--data", metavar="DIR", help="prepared folder whose labels and input format it uses")
    p.add_argument("--labels", metavar="L1,L2,...", help="label set (default: positive,negative,neutral)")
    p.add_argument("--base-model", metavar="M", default="")
    p.add_argument(
        "--mode",
        choices=("zero-shot", "few-shot"),
        help="use a chat model without training (backends with zero/few-shot mode); few-shot draws"
        " examples from --data's training split",
    )
    p.add_argument("--per-label", type=int, default=2, metavar="N", help="few-shot examples per label (2)")
    p.add_argument(
        "--label-map",
        metavar="THEIRS=OURS,...",
        help="use --model as it is, a ready sentiment classifier (a folder or hub id), its labels mapped onto"
        " ours, e.g. LABEL_0=negative,LABEL_1=neutral,LABEL_2=positive (backends that can, e.g. transformers)",
    )
    p.set_defaults(func=run_add_model)

    p = subparsers.add_parser(
        "rename", help="give a model, job or bulk run a new name (shown in lists, pickers and the dashboard)"
    )
    p.add_argument("kind", choices=("model", "job", "run"))
    p.add_argument("record", metavar="ID_OR_NAME")
    p.add_argument("name", metavar="NEW_NAME")
    p.add_argument("--backend", metavar="B", help="the model's backend, where two backends share a name")
    p.set_defaults(func=run_rename)

    p = subparsers.add_parser("evaluate", help="evaluate a model on a prepared folder's validation split")
    p.add_argument("--backend", metavar="B", help="the model's backend (default: found from the model)")
    p.add_argument("--model", required=True, metavar="M", help="model id or unique name")
    p.add_argument("--data", required=True, metavar="DIR", help="prepared folder (or a dataset id)")
    p.set_defaults(func=run_evaluate)


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def train_options(args: argparse.Namespace, svc: FinsentService) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"--option {item!r} is not KEY=VALUE.", hint="For example: --option batch_size=8"
            )
        options[key.strip().replace("-", "_")] = _parse_value(value)
    for dest, value in vars(args).items():
        if dest.startswith("opt__"):
            options[dest[5:]] = _parse_value(value)
    fields = svc.registry.get(args.backend).Options.model_fields
    if args.base_model:
        options["base_model"] = args.base_model
    if args.epochs is not None:
        # "epochs" or "n_epochs": whatever the backend calls it
        key = "epochs" if "epochs" in fields or "n_epochs" not in fields else "n_epochs"
        options[key] = args.epochs
    return options


def dataset_for(svc: FinsentService, data: str) -> DatasetRecord:
    path = Path(data).expanduser()
    if not path.exists() and data.startswith("ds-"):
        return svc.dataset(data)
    return svc.register_dataset(path)


def run_backends(args: argparse.Namespace) -> int:
    svc = service()
    rows = []
    for info in svc.backends():
        key = info.key_env_var or "yes" if info.needs_key else "no"
        reason = info.reason.en if info.reason else ""
        rows.append([info.name, info.label.en, key, "yes" if info.available else f"no: {reason}"])
    print_table(["name", "label", "needs key", "available"], rows)
    warn_plugin_problems(svc)
    return 0


def run_train(args: argparse.Namespace) -> int:
    svc = service()
    warn_plugin_problems(svc, only_if_missing=args.backend)
    options = train_options(args, svc)
    dataset = dataset_for(svc, args.data)
    notice = svc.training_notice(args.backend)
    if notice is not None:
        print(f"note: {notice.en}", file=sys.stderr)
    job = svc.start_training(args.backend, dataset.id, options)
    print(job.id, flush=True)
    print(
        f"Started {args.backend} job {job.id} on {dataset.directory} ({job.status.value}).", file=sys.stderr
    )
    if args.follow:
        return follow(svc, job.id, args.interval)
    print(f"Follow it with: finsent follow {job.id}", file=sys.stderr)
    return 0


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _time(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def run_jobs(args: argparse.Namespace) -> int:
    svc = service()
    rows = [
        [j.title, j.id, j.backend, j.status.value, _fmt(j.progress, 2), j.base_model or "-",
         j.fine_tuned_model or "-", _time(j.created_at), (j.error or "")[:60]]
        for j in svc.jobs()
    ]  # fmt: skip
    if not rows:
        print("No jobs yet. Start one with `finsent train --backend B --data DIR`.")
        return 0
    print_table(
        ["name", "job", "backend", "status", "progress", "base model", "model", "created", "error"], rows
    )
    return 0


def follow(svc: FinsentService, job_id: str, interval: float) -> int:
    """Print events and metric points as they arrive; Ctrl-C stops following, not the job."""
    state: dict[str, int] = {"seq": 0, "step": -1}

    def show(job: JobRecord) -> None:
        for event in svc.job_events(job_id, after_seq=state["seq"]):
            marker = {"error": "!", "warning": "?"}.get(event.level, " ")
            print(f"{_time(event.created_at)} {marker} {event.message}", flush=True)
            state["seq"] = event.seq
        metrics = svc.job_metrics(job_id)
        metrics = metrics[metrics["step"] > state["step"]]
        for point in metrics.itertuples(index=False):
            print(
                f"  step {point.step:>5}  epoch {_fmt(point.epoch, 2):>5}  train loss {_fmt(point.train_loss)}"
                f"  acc {_fmt(point.train_accuracy)}  valid loss {_fmt(point.valid_loss)}  acc {_fmt(point.valid_accuracy)}",
                flush=True,
            )
            state["step"] = int(point.step)  # type: ignore[arg-type]

    try:
        job = svc.follow_job(job_id, show, interval=interval)
    except KeyboardInterrupt:
        print(
            f"\nStopped following. Job {job_id} keeps running; follow it again with: finsent follow {job_id}",
            file=sys.stderr,
        )
        return 130
    print(f"Job {job_id}: {job.status.value}" + (f" ({job.error})" if job.error else ""), flush=True)
    if job.fine_tuned_model:
        print(f"Model: {job.fine_tuned_model}")
    evaluation = svc.evaluation(job_id)
    if evaluation:
        print_evaluation(evaluation)
    return 0 if job.status.value == "succeeded" else 1


def run_follow(args: argparse.Namespace) -> int:
    svc = service()
    return follow(svc, svc.find_job(args.job).id, args.interval)


def run_resume(args: argparse.Namespace) -> int:
    svc = service()
    job = svc.resume_interrupted_job(svc.find_job(args.job).id)
    print(f"Job {job.id} ({job.title}): {job.status.value}, resumed from its last checkpoint.")
    return follow(svc, job.id, args.interval) if args.follow else 0


def run_cancel(args: argparse.Namespace) -> int:
    svc = service()
    job = svc.cancel_job(svc.find_job(args.job).id)
    print(f"Job {job.id}: {job.status.value}")
    return 0


def run_results(args: argparse.Namespace) -> int:
    svc = service()
    job = svc.find_job(args.job)
    history = svc.job_metrics(job.id)  # step, epoch, train/valid loss and accuracy
    if args.output:
        path = svc.files.write_table(args.output, history)
        print(f"Wrote the metric history ({len(history)} steps) to {path}")
    else:
        sys.stdout.write(history.to_csv(index=False))
        print()
    print(
        f"Job {job.id} ({job.backend}): {job.status.value}"
        + (f", model {job.fine_tuned_model}" if job.fine_tuned_model else "")
    )
    evaluation = svc.evaluation(job.id)
    if evaluation:
        print_evaluation(evaluation)
    else:
        print("No final classification metrics yet (they are computed when the job succeeds).")
    return 0


def run_models(args: argparse.Namespace) -> int:
    svc = service()
    if args.backend:
        svc.registry.get(args.backend)
    models = svc.models(args.backend)
    if not models:
        print("No models yet: train one, or record an existing one with `finsent add-model`.")
        return 0
    print_table(
        ["name", "model", "backend", "base model", "job", "labels", "created"],
        [
            [m.title, m.id, m.backend, m.base_model or "-", m.job_id or "-", ",".join(m.labels),
             _time(m.created_at)]
            for m in models
        ],
    )  # fmt: skip
    return 0


def run_add_model(args: argparse.Namespace) -> int:
    if args.mode == "few-shot" and not args.data:
        raise InputError(
            Text(
                "--mode few-shot needs --data DIR: the examples come from its training split.",
                "--mode few-shot에는 --data DIR이 필요합니다. 예시를 학습 분할에서 뽑습니다.",
            )
        )
    svc = service()
    dataset = dataset_for(svc, args.data) if args.data else None
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    if args.label_map is not None:
        from finsent.service import parse_label_map

        record = svc.add_ready_model(
            args.backend, args.model, parse_label_map(args.label_map) or None, labels
        )
        print(f"Recorded {record.backend} model {record.title!r} ({record.id}), used as it is"
              f" (labels: {', '.join(record.labels)}).")  # fmt: skip
        print(f"Classify with: finsent classify --model {record.id} TEXT")
        return 0
    if args.mode:
        record = svc.add_shot_model(
            args.backend,
            args.model,
            args.mode,
            dataset_id=dataset.id if dataset else None,
            per_label=args.per_label,
            labels=labels,
        )
        examples = len(record.details.get("examples") or ())
        print(
            f"Recorded {record.backend} model {record.id} in {args.mode} mode"
            + (f" with {examples} examples" if examples else "")
            + f" (labels: {', '.join(record.labels)})."
        )
        print(f"Classify with: finsent classify --backend {record.backend} --model {record.id} TEXT")
        return 0
    record = svc.add_model(
        args.backend,
        args.model,
        dataset_id=dataset.id if dataset else None,
        base_model=args.base_model,
        labels=labels,
    )
    print(f"Recorded {record.backend} model {record.id} (labels: {', '.join(record.labels)}).")
    return 0


def run_rename(args: argparse.Namespace) -> int:
    svc = service()
    if args.kind == "model":
        model = svc.find_model(args.record, args.backend)
        renamed = svc.rename_model(model.backend, model.id, args.name)
        print(f"Model {renamed.id} ({renamed.backend}) is now named {renamed.title!r}.")
    elif args.kind == "job":
        job = svc.rename_job(svc.find_job(args.record).id, args.name)
        print(f"Job {job.id} is now named {job.title!r}.")
    else:
        run = svc.rename_bulk_run(svc.find_bulk_run(args.record).id, args.name)
        print(f"Bulk run {run.id} is now named {run.title!r}.")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    svc = service()
    args.backend, args.model = svc.resolve_model(args.model, args.backend)
    dataset = dataset_for(svc, args.data)
    evaluation = svc.evaluate(args.backend, args.model, dataset.id)
    print(f"Evaluation {evaluation.id}: {args.backend} model {args.model} on {dataset.directory}")
    print_evaluation(evaluation)
    return 0
