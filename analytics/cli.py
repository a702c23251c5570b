"""The ``callqa`` command: a thin click layer over the library.

Exit codes: 0 success; 1 some inputs rejected (the rest imported) or some calls
failed; 2 usage error; 3 any other callqa error.
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from analytics import audit, governance
from analytics.config import Settings, load_settings
from analytics.errors import CallqaError
from analytics.store import Store, status, utcnow
from analytics.workspace import loose_permissions, use_private_umask

F = TypeVar("F", bound=Callable[..., Any])


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


class Context:
    def __init__(self, home: str | None) -> None:
        self.home = home
        self._stores: dict[tuple[tuple[str, Any], ...], Store] = {}

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(self.home, **overrides)

    def store(self, **overrides: Any) -> Store:
        """The workspace's store, opened once per set of setting overrides.

        A deletion that an open reader kept from being scrubbed is finished first.
        """
        key = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
        if key not in self._stores:
            store = self._stores[key] = Store.open(self.settings(**dict(key)))
            store.finish_pending_scrub()
        return self._stores[key]

    def close(self) -> None:
        """At the end of a command: try a pending scrub once more, and say what is left."""
        for store in self._stores.values():
            scrub = store.finish_pending_scrub(attempts=2)
            if scrub is not None and not scrub.complete:
                click.echo(f"note: {scrub.summary()}", err=True)
            store.close()
        self._stores.clear()


def handle_errors(fn: F) -> F:
    """Turn callqa errors into one clear line and the mapped exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CallqaError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            # A file system refusal (unwritable --home, full disk): one line, no traceback.
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home", envvar="CALLQA_HOME", type=click.Path(file_okay=False), help="Workspace folder."
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="callqa")
@click.pass_context
def cli(ctx: click.Context, home: str | None, verbose: int) -> None:
    """callqa: local, privacy-first call quality and analytics."""
    _configure_logging(verbose)
    ctx.obj = Context(home)
    ctx.call_on_close(ctx.obj.close)


# --- ingest / process -------------------------------------------------------------


def _print_ingest(report: Any) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for reject in report.rejects:
        click.echo(f"rejected {reject.describe()}", err=True)
    if report.skipped_files:
        click.echo(f"skipped {report.skipped_files} non-audio files in folders", err=True)
    click.echo(report.summary())


def _ingest(
    obj: Context, paths: tuple[str, ...], metadata: str | None, roots: tuple[str, ...]
) -> int:
    from analytics.ingest import ingest

    if not paths and not metadata:
        raise click.UsageError("give files or folders to ingest, or --metadata CSV")
    report = ingest(
        obj.store(),
        [Path(p) for p in paths],
        Path(metadata) if metadata else None,
        roots=[Path(r) for r in roots],
        progress=True,
    )
    _print_ingest(report)
    return 1 if report.rejects else 0


_root_option = click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Another folder CSV rows may name recordings in (repeatable); the CSV's folder "
    "and the PATHs given are always allowed.",
)


@cli.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--metadata", type=click.Path(dir_okay=False), help="Metadata CSV naming recordings.")
@_root_option
@pass_ctx
@handle_errors
def ingest_cmd(
    obj: Context, paths: tuple[str, ...], metadata: str | None, roots: tuple[str, ...]
) -> None:
    """Import recordings (files, folders, CSV rows) into the workspace."""
    sys.exit(_ingest(obj, paths, metadata, roots))


def _process(
    obj: Context,
    workers: int | None,
    executor: str,
    model: str | None,
    retry_failed: bool,
    ray_address: str | None = None,
) -> int:
    from analytics.pipeline import process

    store = obj.store(model=model)
    report = process(
        store,
        workers=workers,
        executor=executor,
        progress=True,
        retry_failed=retry_failed,
        address=ray_address,
    )
    for call_id, reason in report.failed.items():
        click.echo(f"failed {call_id}: {reason}", err=True)
    click.echo(report.summary())
    return 1 if report.failed else 0


_process_options = [
    click.option(
        "--workers", type=click.IntRange(1, 64), help="Calls processed at once (default: settings)."
    ),
    click.option(
        "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True
    ),
    click.option(
        "--model", help="Whisper model: base (embedded), tiny.en, a CTranslate2 folder or a name."
    ),
    click.option("--retry-failed", is_flag=True, help="Try failed calls again."),
    click.option(
        "--ray-address",
        help="With --executor ray: join this Ray cluster (HOST:PORT, or auto; default "
        "RAY_ADDRESS); without, a local cluster is started.",
    ),
]


def _with_options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


@cli.command("process")
@_with_options(_process_options)
@pass_ctx
@handle_errors
def process_cmd(
    obj: Context,
    workers: int | None,
    executor: str,
    model: str | None,
    retry_failed: bool,
    ray_address: str | None,
) -> None:
    """Transcribe, redact and analyse every pending call."""
    sys.exit(_process(obj, workers, executor, model, retry_failed, ray_address))


@cli.command("run")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--metadata", type=click.Path(dir_okay=False), help="Metadata CSV naming recordings.")
@_root_option
@_with_options(_process_options)
@pass_ctx
@handle_errors
def run_cmd(
    obj: Context,
    paths: tuple[str, ...],
    metadata: str | None,
    roots: tuple[str, ...],
    workers: int | None,
    executor: str,
    model: str | None,
    retry_failed: bool,
    ray_address: str | None,
) -> None:
    """Ingest, then process everything pending."""
    ingest_code = _ingest(obj, paths, metadata, roots)
    process_code = _process(obj, workers, executor, model, retry_failed, ray_address)
    sys.exit(max(ingest_code, process_code))


# --- reads ------------------------------------------------------------------------


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="File to write.")
@pass_ctx
@handle_errors
def export_cmd(obj: Context, fmt: str, out: str) -> None:
    """Export every visible call (redacted) as JSON Lines, CSV or Parquet."""
    from analytics.export import export_calls

    count = export_calls(obj.store(), fmt, Path(out))
    click.echo(f"exported {count} calls to {out}")


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@handle_errors
def status_cmd(obj: Context, as_json: bool) -> None:
    """Counts of calls by state, holds, rejected inputs; warns about readable files."""
    store = obj.store()
    found = status(store, utcnow())
    loose = loose_permissions(store.settings)
    found["permission_warnings"] = [
        {"path": str(path), "mode": f"{mode:04o}"} for path, mode in loose
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for path, mode in loose:
        click.echo(
            f"warning: {path} is open to other users (mode {mode:04o}); run: chmod go-rwx {path}",
            err=True,
        )
    counts = found["counts"]
    click.echo(
        "calls: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none")
    )
    click.echo(f"holds: {found['holds']}")
    click.echo(f"rejects: {len(found['rejects'])}")
    for reject in found["rejects"]:
        where = f"{reject['source']}:{reject['row']}" if reject["row"] else reject["source"]
        click.echo(f"  {where}: {reject['reason']}")


# --- governance -------------------------------------------------------------------

_STDIN_HELP = " '-' reads it from standard input (not shown by ps or kept in shell history)."


def _caller_id_value(caller_id: str | None, from_stdin: bool) -> str | None:
    """A caller id from the command line, or from standard input (``-`` or the flag)."""
    if from_stdin and caller_id not in (None, "-"):
        raise click.UsageError("give --caller-id NUMBER or --caller-id-stdin, not both")
    if not (from_stdin or caller_id == "-"):
        return caller_id
    value = sys.stdin.readline().strip()
    if not value:
        raise click.UsageError("no caller id on standard input")
    return value


def _caller_options(required: bool, what: str) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        fn = click.option(
            "--caller-id-stdin", is_flag=True, help="Read the caller id from standard input."
        )(fn)
        return click.option("--caller-id", help=what + _STDIN_HELP)(fn)

    return apply


def _required_caller(caller_id: str | None, from_stdin: bool) -> str:
    value = _caller_id_value(caller_id, from_stdin)
    if value is None:
        raise click.UsageError("give --caller-id NUMBER (or - / --caller-id-stdin)")
    return value


@cli.command("object")
@click.option("--call", "call_id", help="The call objected to.")
@_caller_options(False, "The caller objecting (all their calls, now and later).")
@pass_ctx
@handle_errors
def object_cmd(
    obj: Context, call_id: str | None, caller_id: str | None, caller_id_stdin: bool
) -> None:
    """Record an objection: the calls are never analysed, and what was derived is deleted."""
    caller_id = _caller_id_value(caller_id, caller_id_stdin)
    if (call_id is None) == (caller_id is None):
        raise click.UsageError("give exactly one of --call or --caller-id")
    report = governance.object_calls(obj.store(), call_id=call_id, caller_id=caller_id)
    click.echo(f"objection recorded; {len(report.calls)} calls removed from analysis")
    if caller_id is not None and not report.calls:
        click.echo("no stored call from this caller; their future calls will be refused")
    for call in report.recordings_kept_on_hold:
        click.echo(f"recording of {call} kept: it is under a litigation hold")


@cli.command("hold")
@click.option("--call", "call_id", required=True)
@click.option("--reason", required=True, help="Why (case reference); shown to the DPO.")
@pass_ctx
@handle_errors
def hold_cmd(obj: Context, call_id: str, reason: str) -> None:
    """Put a litigation hold on a call: it survives retention until released."""
    added = governance.hold(obj.store(), call_id, reason)
    click.echo(f"hold on {call_id}" + ("" if added else " (already held)"))


@cli.command("release")
@click.option("--call", "call_id", required=True)
@pass_ctx
@handle_errors
def release_cmd(obj: Context, call_id: str) -> None:
    """Lift a litigation hold; normal retention applies at once."""
    report = governance.release(obj.store(), call_id)
    click.echo(f"hold on {call_id} released; {report.summary()}")


@cli.command("purge")
@pass_ctx
@handle_errors
def purge_cmd(obj: Context) -> None:
    """Apply retention now: delete expired calls (not on hold) and all they left."""
    click.echo(governance.purge(obj.store()).summary())


@cli.group("subject")
def subject_group() -> None:
    """A caller's rights: access to and erasure of their calls."""


@subject_group.command("access")
@_caller_options(True, "The caller asking.")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Archive to write (default: in the workspace)."
)
@pass_ctx
@handle_errors
def subject_access_cmd(
    obj: Context, caller_id: str | None, caller_id_stdin: bool, out: str | None
) -> None:
    """Write an archive of everything kept about one caller."""
    caller_id = _required_caller(caller_id, caller_id_stdin)
    store = obj.store()
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    default_dir = store.settings.home / governance.ACCESS_ARCHIVE_DIR
    target = Path(out) if out else default_dir / f"access-{stamp}.zip"
    count = governance.subject_access(store, caller_id, target)
    click.echo(f"{count} calls written to {target}")


@subject_group.command("erase")
@_caller_options(True, "The caller asking.")
@pass_ctx
@handle_errors
def subject_erase_cmd(obj: Context, caller_id: str | None, caller_id_stdin: bool) -> None:
    """Erase every call of one caller (calls under a litigation hold are kept)."""
    caller_id = _required_caller(caller_id, caller_id_stdin)
    report = governance.subject_erase(obj.store(), caller_id)
    click.echo(f"{len(report.erased)} calls erased")
    if report.kept_on_hold:
        click.echo(
            f"{len(report.kept_on_hold)} calls kept under a litigation hold: {', '.join(report.kept_on_hold)}"
        )


@cli.group("calls")
def calls_group() -> None:
    """Call metadata (rectification)."""


@calls_group.command("edit")
@click.argument("call_id")
@click.option("--started-at")
@click.option("--agent-id")
@click.option("--team")
@click.option("--caller-id", help="The caller's number;" + _STDIN_HELP)
@click.option("--channel-layout", type=click.Choice(["agent_left", "agent_right", "mono"]))
@click.option("--language")
@pass_ctx
@handle_errors
def calls_edit_cmd(obj: Context, call_id: str, **fields: str | None) -> None:
    """Rectify a call's metadata."""
    if fields.get("caller_id") == "-":
        fields["caller_id"] = _caller_id_value("-", False)
    changes = {name: value for name, value in fields.items() if value is not None}
    if not changes:
        raise click.UsageError("give at least one field to change")
    changed = governance.rectify(obj.store(), call_id, changes)
    click.echo(f"{call_id}: changed {', '.join(changed)}")


@cli.group("audit", invoke_without_command=True)
@click.option(
    "--verify", is_flag=True, help="Check the keyed hash chain; exit 1 naming every bad row."
)
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(dir_okay=False),
    help="With --verify: also check the chain against this signed checkpoint (truncation).",
)
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
@handle_errors
def audit_cmd(ctx: click.Context, verify: bool, checkpoint_file: str | None, limit: int) -> None:
    """Show the audit log, or verify that it was not tampered with."""
    if ctx.invoked_subcommand is not None:
        return
    if checkpoint_file and not verify:
        raise click.UsageError("--checkpoint goes with --verify")
    store = ctx.ensure_object(Context).store()
    audit.upgrade(store)  # an old unkeyed chain is re-keyed (and says so) first
    if verify:
        checkpoint = (
            audit.read_checkpoint(store, Path(checkpoint_file)) if checkpoint_file else None
        )
        problems = audit.verify(store, checkpoint)
        if problems:
            for problem in problems:
                click.echo(f"audit row {problem.row_id}: {problem.reason}", err=True)
            sys.exit(1)
        against = (
            f"; it reaches checkpoint row {checkpoint.seq} of {checkpoint.taken_at}"
            if checkpoint
            else ""
        )
        click.echo(f"audit log intact ({len(audit.entries(store))} entries){against}")
        return
    for entry in reversed(audit.entries(store, limit=limit)):
        click.echo(
            f"{entry['id']:>6} {entry['at']} {entry['actor']:<12} {entry['action']:<15} "
            f"{entry['call_id'] or '-':<16} {entry['detail']}"
        )


@audit_cmd.command("checkpoint")
@click.option(
    "--out", type=click.Path(dir_okay=False), required=True, help="Checkpoint file to write."
)
@pass_ctx
@handle_errors
def audit_checkpoint_cmd(obj: Context, out: str) -> None:
    """Write a signed checkpoint of the chain's head (keep it off this machine)."""
    store = obj.store()
    audit.upgrade(store)
    checkpoint = audit.write_checkpoint(store, Path(out))
    click.echo(
        f"checkpoint written to {out}: row {checkpoint.seq} at {checkpoint.taken_at}, "
        f"head {checkpoint.head_hash[:16]}…; keep a copy away from the workspace"
    )


@cli.group("evidence")
def evidence_group() -> None:
    """Evidence packs of calls under a litigation hold (DPO): export and verify."""


@evidence_group.command("export")
@click.option("--call", "call_id", required=True, help="A call under a litigation hold.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Archive to write.")
@pass_ctx
@handle_errors
def evidence_export_cmd(obj: Context, call_id: str, out: str) -> None:
    """Write the signed evidence pack of a held call (zip, mode 0600); audited."""
    from analytics import evidence

    info = evidence.export_pack(obj.store(), call_id, Path(out))
    click.echo(f"evidence pack of {call_id} written to {out}: {len(info.files)} files")
    for part in info.absent:
        click.echo(f"  not in the pack: {part} (none is kept for this call)")
    click.echo(f"manifest SHA-256 {info.manifest_sha256} (recorded in the audit log)")


@evidence_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Evidence key file (default: the workspace's evidence.key).",
)
@pass_ctx
@handle_errors
def evidence_verify_cmd(obj: Context, file: str, key_file: str | None) -> None:
    """Check a pack against its signed manifest; exit 1 naming every changed part."""
    from analytics import evidence
    from analytics.workspace import load_evidence_key, read_key_file

    key = (
        read_key_file(Path(key_file))
        if key_file
        else load_evidence_key(obj.settings(), create=False)
    )
    report = evidence.verify(Path(file), key)
    if not report.ok:
        for problem in report.problems:
            click.echo(f"{file}: {problem}", err=True)
        sys.exit(1)
    click.echo(
        f"{file}: intact; call {report.call_id}, {report.files} files, "
        f"exported by {report.exported_by} at {report.exported_at}"
    )


# --- evaluations ---------------------------------------------------------------------


@cli.group("form")
def form_group() -> None:
    """Evaluation forms (versioned TOML: sections, weighted questions)."""


@form_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--no-activate", is_flag=True, help="Import only; new calls keep the current form.")
@pass_ctx
@handle_errors
def form_import_cmd(obj: Context, file: str, no_activate: bool) -> None:
    """Import a form file; it becomes the form new calls are evaluated under."""
    from analytics.evaluations import automatic

    form = automatic.import_form(obj.store(), Path(file), activate=not no_activate)
    state = "imported" if no_activate else "imported and active"
    click.echo(f"form {form.ref} {state} ({len(form.questions)} questions)")


@form_group.command("list")
@pass_ctx
@handle_errors
def form_list_cmd(obj: Context) -> None:
    """List the forms: name@version, questions, active, imported."""
    from analytics.evaluations import automatic

    for info in automatic.list_forms(obj.store()):
        mark = "active" if info.active else ""
        click.echo(
            f"{info.name}@{info.version}\t{info.questions} questions\t{mark}\t"
            f"{info.imported_at}\t{info.title}"
        )


@cli.command("rescore")
@click.option("--form", "ref", required=True, help="NAME (latest version) or NAME@VERSION.")
@pass_ctx
@handle_errors
def rescore_cmd(obj: Context, ref: str) -> None:
    """Re-evaluate every call within retention under a form; earlier evaluations stay."""
    from tqdm import tqdm

    from analytics.evaluations import automatic

    store = obj.store()
    with tqdm(total=automatic.count_rescorable(store), unit="call", disable=None) as bar:
        report = automatic.rescore(store, ref, progress=bar.update)
    click.echo(f"{report.calls} calls evaluated under {report.form}")
    if report.carried or report.to_review:
        click.echo(
            f"{report.carried} human answers carried; "
            f"{report.to_review} to questions that changed: evaluations flagged to_review"
        )


@cli.group("calibration")
def calibration_group() -> None:
    """Calibration: several evaluators score the same calls blind."""


@calibration_group.command("create")
@click.option("--name", required=True, help="The session's name.")
@click.option("--calls", "call_list", help="Call ids, comma-separated (or --sample).")
@click.option("--sample", type=int, help="Draw this many visible calls at random.")
@click.option("--seed", type=int, help="Seed of --sample (the same seed, the same calls).")
@click.option(
    "--evaluators", required=True, help="Two or more evaluator user names, comma-separated."
)
@click.option("--form", "ref", help="NAME or NAME@VERSION (default: the active form).")
@pass_ctx
@handle_errors
def calibration_create_cmd(
    obj: Context,
    name: str,
    call_list: str | None,
    sample: int | None,
    seed: int | None,
    evaluators: str,
    ref: str | None,
) -> None:
    """Create a calibration session: calls (listed or sampled) scored blind by evaluators."""
    from analytics.evaluations import calibration

    if (call_list is None) == (sample is None):
        raise click.UsageError("give either --calls ID,ID,... or --sample N")
    if seed is not None and sample is None:
        raise click.UsageError("--seed goes with --sample")
    store = obj.store()
    if sample is not None:
        call_ids = calibration.sample_calls(store, sample, seed=seed)
    else:
        call_ids = [c.strip() for c in (call_list or "").split(",") if c.strip()]
    people = [e.strip() for e in evaluators.split(",") if e.strip()]
    session_id = calibration.create_session(
        store, name, call_ids, people, form_ref=ref, actor="cli"
    )
    click.echo(
        f"calibration session {session_id} {name.strip()!r}: {len(set(call_ids))} calls, "
        f"evaluators {', '.join(sorted(set(people)))}"
    )


@calibration_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@handle_errors
def calibration_list_cmd(obj: Context, as_json: bool) -> None:
    """List the calibration sessions, newest first: id, name, form, evaluators, created."""
    from analytics.evaluations import calibration

    found = calibration.sessions(obj.store())
    if as_json:
        keys = ("id", "name", "form_name", "form_version", "evaluators", "created_by", "created_at")
        click.echo(json.dumps([{k: s[k] for k in keys} for s in found], indent=2))
        return
    for s in found:
        click.echo(
            f"{s['id']}\t{s['name']}\t{s['form_name']}@{s['form_version']}\t"
            f"{','.join(s['evaluators'])}\t{s['created_by']}\t{s['created_at']}"
        )


@calibration_group.command("report")
@click.option("--session", "session_id", type=int, help="Session id (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@handle_errors
def calibration_report_cmd(obj: Context, session_id: int | None, as_json: bool) -> None:
    """Agreement per question (percent, Fleiss' and Cohen's kappa) and automatic vs human."""
    from analytics.evaluations import calibration

    report = calibration.report(obj.store(), session_id)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(report.summary())


# --- users, dashboard, demo ---------------------------------------------------------


@cli.group("user")
def user_group() -> None:
    """Dashboard users."""


def _read_password(name: str, password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"password for {name}: ")


class _Roles(Sequence[str]):
    """analytics.auth.ROLES, the one list of roles, read when a command needs it
    (auth loads the password libraries: not at every start of the CLI)."""

    def _roles(self) -> tuple[str, ...]:
        from analytics.auth import ROLES

        return ROLES

    def __getitem__(self, index: Any) -> Any:
        return self._roles()[index]

    def __len__(self) -> int:
        return len(self._roles())


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(_Roles()),
)
@click.option("--agent-id", help="Role agent: the agent_id of their calls (required for agent).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
@handle_errors
def user_add_cmd(
    obj: Context, name: str, role: str, agent_id: str | None, password_stdin: bool
) -> None:
    """Add a dashboard user (the password is stored as an argon2 hash).

    The password needs at least 12 characters and must not be easy to guess. An agent
    sees only the calls and evaluations of their --agent-id.
    """
    from analytics import auth

    auth.add_user(obj.store(), name, role, _read_password(name, password_stdin), agent_id=agent_id)
    click.echo(f"user {name} added as {role}")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
@handle_errors
def user_passwd_cmd(obj: Context, name: str, password_stdin: bool) -> None:
    """Change a user's password: their open dashboard sessions end, a lock is lifted."""
    from analytics import auth

    auth.set_password(obj.store(), name, _read_password(name, password_stdin))
    click.echo(f"user {name}: password changed; their open sessions are signed out")


@user_group.command("remove")
@click.argument("name")
@pass_ctx
@handle_errors
def user_remove_cmd(obj: Context, name: str) -> None:
    """Remove a user: their open dashboard sessions end at their next click."""
    from analytics import auth

    auth.remove_user(obj.store(), name)
    click.echo(f"user {name} removed")


@user_group.command("list")
@pass_ctx
@handle_errors
def user_list_cmd(obj: Context) -> None:
    """List the dashboard users: name, role, created."""
    from analytics import auth

    for user in auth.list_users(obj.store()):
        agent = f"\t{user.agent_id}" if user.agent_id else ""
        click.echo(f"{user.name}\t{user.role}\t{user.created_at}{agent}")


@cli.command("dashboard")
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on. Anything but loopback needs a TLS reverse proxy in front.",
)
@pass_ctx
@handle_errors
def dashboard_cmd(obj: Context, port: int, address: str) -> None:
    """Serve the dashboard (Streamlit) on this machine, on loopback unless told otherwise."""
    import dashboard

    settings = obj.store().settings
    # serve() logs the TLS reverse-proxy warning when the address is not loopback.
    click.echo(f"dashboard on http://{address}:{port} (Ctrl-C to stop)")
    sys.exit(dashboard.serve(settings, port, address=address))


@cli.command("demo")
@click.option("--calls", "n_calls", type=click.IntRange(2, 150), default=12, show_default=True)
@click.option("--no-dashboard", is_flag=True, help="Stop after printing the summary.")
@click.option("--port", type=int, default=8501, show_default=True)
@pass_ctx
@handle_errors
def demo_cmd(obj: Context, n_calls: int, no_dashboard: bool, port: int) -> None:
    """Build a demo corpus of synthetic calls, process it, open the dashboard.

    Only into a new workspace (a missing or empty --home) or one the demo created.
    """
    from analytics.demo import claim_workspace, run_demo

    claim_workspace(obj.settings())
    store = obj.store()
    run_demo(store, n_calls=n_calls, echo=click.echo)
    if not no_dashboard:
        import dashboard

        click.echo(f"dashboard on http://127.0.0.1:{port} (Ctrl-C to stop)")
        sys.exit(dashboard.serve(store.settings, port))


# --- conversation insights: categories, search, call drivers --------------------------


def _progress_bar(total: int, what: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="call", file=sys.stderr, disable=total == 0)


@cli.group("category")
def category_group() -> None:
    """Categories: rules over what was said, by whom, when, and the call's figures."""


@category_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
@handle_errors
def category_import_cmd(obj: Context, file: str) -> None:
    """Import [[categories]] from a TOML FILE; changed ones re-categorise past calls."""
    from analytics.insights import service
    from analytics.store import categories as cat_store

    store = obj.store()
    total = cat_store.count_visible(store, utcnow())
    with _progress_bar(total, "categorising") as bar:
        report = service.import_file(store, Path(file), progress=bar.update)
    click.echo(
        f"{len(report.changed)} new or changed, {len(report.unchanged)} unchanged; "
        f"{report.calls} calls re-categorised"
    )


@category_group.command("list")
@pass_ctx
@handle_errors
def category_list_cmd(obj: Context) -> None:
    """The active categories, their version and how many visible calls match."""
    from analytics.store import categories as cat_store

    store = obj.store()
    counts = cat_store.counts(store, utcnow())
    for definition in cat_store.definitions(store):
        click.echo(
            f"{definition.name}\tv{definition.version}\t{counts.get(definition.name, 0)} calls"
        )


@category_group.command("remove")
@click.argument("name")
@pass_ctx
@handle_errors
def category_remove_cmd(obj: Context, name: str) -> None:
    """Retire a category and delete its matches."""
    from analytics.errors import NotFoundError
    from analytics.insights import service

    if not service.remove_category(obj.store(), name):
        raise NotFoundError(f"category {name!r}: no such active category")
    click.echo(f"removed {name}")


@cli.command("categorize")
@pass_ctx
@handle_errors
def categorize_cmd(obj: Context) -> None:
    """Re-apply every category to every call within retention.

    The [[categories]] of the workspace's config.toml are imported first.
    """
    from analytics.insights import service
    from analytics.store import categories as cat_store

    store = obj.store()
    now = utcnow()
    changed = service.import_categories(store, service.config_categories(store.settings), now=now)
    total = cat_store.count_visible(store, now)
    with _progress_bar(total, "categorising") as bar:
        calls = service.categorize(store, now=now, progress=bar.update)
    with store.write() as conn:
        audit.record(conn, "cli", "categorize", None, {"calls": calls}, now=now)
    click.echo(
        f"{len(changed.changed)} categories from config.toml changed; {calls} calls categorised"
    )


@cli.command("search")
@click.argument("query")
@click.option("--speaker", type=click.Choice(["agent", "customer", "unknown"]))
@click.option("--team", multiple=True, help="Only these teams (repeatable).")
@click.option("--agent", multiple=True, help="Only these agents (repeatable).")
@click.option("--category", multiple=True, help="Only calls in these categories.")
@click.option("--language", help="Only calls in this language (fr, en...).")
@click.option("--since", help="Calls started at or after (ISO date/time).")
@click.option("--until", help="Calls started before (ISO date/time).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit.")
@pass_ctx
@handle_errors
def search_cmd(
    obj: Context,
    query: str,
    speaker: str | None,
    team: tuple[str, ...],
    agent: tuple[str, ...],
    category: tuple[str, ...],
    language: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the redacted transcripts: words (any form), "phrases", prefix*, -word.

    All the terms are required; `a OR b` (upper case) finds either of the two terms
    around it (`panne OR dépanneuse`, `contrat "mise en demeure" OR résiliation`).
    """
    from analytics.dataset import to_moment
    from analytics.store import CallFilter
    from analytics.store.search import search

    flt = CallFilter(
        since=to_moment(since) if since else None,
        until=to_moment(until) if until else None,
        team=list(team) or None,
        agent=list(agent) or None,
        category=list(category) or None,
    )
    store = obj.store()
    now = utcnow()
    hits = search(store, query, now, flt=flt, speaker=speaker, language=language, limit=limit)  # type: ignore[arg-type]
    with store.write() as conn:
        audit.record(conn, "cli", "search", None, {"hits": len(hits)}, now=now)
    for hit in hits:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "call_id": hit.call_id,
                        "segment": hit.idx,
                        "speaker": hit.speaker,
                        "start": hit.start,
                        "started_at": hit.started_at,
                        "team": hit.team,
                        "agent_id": hit.agent_id,
                        "text": hit.text,
                        "matched": [piece for piece, marked in hit.fragments if marked],
                    },
                    ensure_ascii=False,
                )
            )
        else:
            marked = "".join(f"[{p}]" if m else p for p, m in hit.fragments)
            click.echo(f"{hit.call_id}#{hit.idx}\t{hit.started_at}\t{hit.speaker}\t{marked}")
    if not as_json:
        click.echo(f"{len(hits)} segments", err=True)


@cli.command("drivers")
@click.option("--topics", type=click.IntRange(1, 50), default=8, show_default=True)
@click.option("--since", help="Calls started at or after (ISO date/time).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
@handle_errors
def drivers_cmd(obj: Context, topics: int, since: str | None, as_json: bool) -> None:
    """Call drivers: recurring reasons for calling, from the redacted customer turns.

    Topics keep their id from one run to the next while they persist.
    """
    from analytics.dataset import to_moment
    from analytics.insights import service
    from analytics.store import CallFilter

    flt = CallFilter(since=to_moment(since)) if since else None
    run = service.run_drivers(obj.store(), topics=topics, flt=flt)
    assigned = sum(1 for t in run.assignments.values() if t is not None)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "calls": len(run.assignments),
                    "assigned": assigned,
                    "topics": [
                        {
                            "id": t.topic_id,
                            "terms": list(t.terms),
                            "calls": t.calls,
                            "kept_from_last_run": t.topic_id in run.matched,
                        }
                        for t in run.topics
                    ],
                    "weekly": [
                        {"week": week, "id": topic_id, "calls": n}
                        for week, topic_id, n in run.weekly
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{len(run.assignments)} calls, {assigned} with a clear driver")
    for topic in run.topics:
        kept = " (kept)" if topic.topic_id in run.matched else " (new)"
        click.echo(f"#{topic.topic_id}{kept}\t{topic.calls} calls\t{', '.join(topic.terms)}")


@cli.group("voiceprint")
def voiceprint_group() -> None:
    """Agent voiceprints (biometric data, off by default: README "Agent voiceprints")."""


@voiceprint_group.command("list")
@pass_ctx
@handle_errors
def voiceprint_list_cmd(obj: Context) -> None:
    """Per agent: the visible calls and seconds of voice their voiceprint pools."""
    from analytics.store import voiceprints

    for row in voiceprints.voice_counts(obj.store(), utcnow()):
        seconds = (row["frames"] or 0) / 100
        click.echo(
            f"{row['agent_id']}	{row['source']}	{row['calls']} calls	{seconds:.0f} s"
        )


@voiceprint_group.command("delete")
@click.option("--agent", "agent_id", help="only this agent's (default: every agent's)")
@pass_ctx
@handle_errors
def voiceprint_delete_cmd(obj: Context, agent_id: str | None) -> None:
    """Delete the stored agent voices (an agent's voiceprint is gone with them)."""
    from analytics.store import voiceprints

    store = obj.store()
    now = utcnow()
    with store.write() as conn:
        count = voiceprints.delete_voices(conn, agent_id)
        audit.record(conn, "cli", "voiceprint_delete", None, {"calls": count}, now=now)
    click.echo(f"{count} call(s)' agent voice deleted")


def main() -> None:
    # Before anything is written: every file the product creates is private (0600).
    use_private_umask()
    cli(prog_name="callqa")


if __name__ == "__main__":
    main()
