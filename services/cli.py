"""`python -m services …`: everything the dashboard can do, from a shell."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.enums import JobStatus, Role
from services.errors import ReshootError

if TYPE_CHECKING:
    from services.read_models.jobs import JobPublic


def _print(data: Any, as_json: bool = True) -> None:
    print(json.dumps(data, indent=2, default=_json_default) if as_json else data)


def _json_default(value: Any) -> Any:
    """Read models as the API sends them; anything else (dates, paths) as text."""
    from pydantic import BaseModel

    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


def cmd_init(args: argparse.Namespace) -> None:
    from services.db import migrate

    migrate()
    _print({"ok": True})


def cmd_demo(args: argparse.Namespace) -> None:
    from services.demo import load_demo
    from services.jobs import wait_for_job

    loaded = load_demo(generate_images=not args.no_images)
    finished = [wait_for_job(job_id) for job_id in loaded.job_ids]
    jobs = [job.model_dump(mode="json", include={"id", "kind", "status", "message"}) for job in finished]
    _print({**loaded.model_dump(mode="json"), "jobs": jobs})
    if any(job.status != JobStatus.succeeded for job in finished):
        raise SystemExit(1)


def cmd_import(args: argparse.Namespace) -> None:
    from services.importer import import_file

    _print(import_file(Path(args.file), work_item_id=args.work_item))


def cmd_work_items(args: argparse.Namespace) -> None:
    from services.work_items import list_work_items

    page = list_work_items(search=args.search, status=args.status, page=1, page_size=args.limit)
    if args.json:
        _print([item.model_dump(mode="json", include={"id", "title", "status", "shot_count"}) for item in page.items])
    else:
        for item in page.items:
            print(f"{item.id:>8}  {item.status:<10} {item.shot_count:>3} shots  {item.title}")


def cmd_sentences(args: argparse.Namespace) -> None:
    from services.storyboard import list_sentences

    sentences = list_sentences(args.project_id)
    if args.json:
        _print(sentences)
    else:
        for s in sentences:
            flags = ("I" if s.is_image_dirty else "-") + ("V" if s.is_video_dirty else "-")
            print(f"{s.id}  {flags}  {(s.image_prompt or '(no prompt)')[:70]}")


def cmd_render(args: argparse.Namespace) -> None:
    from services.backends import get_backend

    backend = get_backend(args.backend)
    data = backend.generate(
        args.prompt, width=args.width, height=args.height, seed=args.seed, references=[], style_lora=args.style_lora
    )
    Path(args.output).write_bytes(data)
    _print({"ok": True, "output": args.output, "bytes": len(data), "backend": backend.name})


def _finished_job(job_id: str) -> JobPublic:
    """Wait for a job (running it in this process if no worker is alive); a failed job raises its error."""
    from services.jobs import wait_for_job

    job = wait_for_job(job_id)
    if job.status != JobStatus.succeeded:
        raise ReshootError(job.error_code or "INTERNAL_ERROR", 500, job.error_detail, job.message)
    return job


def cmd_generate_heroes(args: argparse.Namespace) -> None:
    from services.lifestyle import GenerateHeroesOptions, generate_lifestyle_heroes
    from services.read_models.heroes import HeroesJobStarted

    options = GenerateHeroesOptions(shot_ids=args.shot or None, dry_run=args.dry_run, overwrite=args.overwrite)
    started = generate_lifestyle_heroes(work_item_id=args.work_item_id, options=options)
    if not isinstance(started, HeroesJobStarted) or not args.wait:
        _print(started.model_dump(mode="json"))
        return
    job = _finished_job(started.job_id)
    _print(job.result or {})
    result = job.heroes_result()
    if result and result.failed:
        raise SystemExit(1)  # some shots failed: the result lists them; exit non-zero for scripts


def cmd_regenerate_image(args: argparse.Namespace) -> None:
    from services.storyboard import RegenerateImageOptions, regenerate_sentence_image

    started = regenerate_sentence_image(sentence_id=args.sentence_id, options=RegenerateImageOptions(seed=args.seed))
    if not args.wait:
        _print(started)
        return
    _print({"jobId": started.job_id, **(_finished_job(started.job_id).result or {})})


def cmd_export(args: argparse.Namespace) -> None:
    from collections import Counter

    from services.reviews import export_approved

    export = export_approved(work_item_id=args.work_item_id, shot_ids=args.shot or None, sku=args.sku)
    output = Path(args.output or export.download_name)
    partial = output.with_name(output.name + ".partial")  # a failed export leaves no half ZIP under the name
    size = 0
    try:
        with partial.open("wb") as out:
            for chunk in export.chunks:
                out.write(chunk)
                size += len(chunk)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    counts = Counter(str(entry.status) for entry in export.manifest.entries)
    _print({"ok": True, "output": str(output), "bytes": size, "targets": len(export.manifest.entries), **counts})


def cmd_worker(args: argparse.Namespace) -> None:
    from services.jobs import run_worker
    from services.operator_errors import check_queue

    check_queue()  # a plain message and exit 1, not a consumer that logs connection retries forever
    run_worker()


WORKERS_EXPECT_SECONDS = 60.0  # `workers --expect N`: how long a worker just started may take to register


def cmd_workers(args: argparse.Namespace) -> None:
    from services.jobs import embedded_workers_enabled, list_workers

    deadline = time.monotonic() + WORKERS_EXPECT_SECONDS
    while len(alive := list_workers()) < args.expect and time.monotonic() < deadline:
        time.sleep(0.5)  # workers started a moment ago register once they have loaded
    ok = len(alive) >= args.expect
    _print({"ok": ok, "embeddedWorkers": embedded_workers_enabled(), "workers": alive})
    if not ok:
        raise SystemExit(1)  # fewer alive than expected: their logs say why


def cmd_gc(args: argparse.Namespace) -> None:
    from services.sweeper import sweep

    _print(sweep(grace_seconds=args.grace, dry_run=args.dry_run).to_json())


def cmd_jobs(args: argparse.Namespace) -> None:
    from services.jobs import list_jobs

    jobs = list_jobs(status=args.status, limit=args.limit)
    if args.json:
        _print(jobs)
    else:
        for job in jobs:
            print(f"{job.id}  {job.kind:<17} {job.status:<9} {job.progress_done}/{job.progress_total}  {job.message}")


def cmd_api(args: argparse.Namespace) -> None:
    import uvicorn

    from services.auth import unsafe_bind_message

    refusal = unsafe_bind_message(args.host, server="API")
    if refusal:
        raise ReshootError("UNSAFE_BIND", 400, {"host": args.host, "auth": "none"}, refusal)
    # The client address must be the real peer: proxy mode trusts oauth2-proxy's headers only from
    # RESHOOT_TRUSTED_PROXIES, which uvicorn's X-Forwarded-For rewriting would defeat.
    uvicorn.run("services.api:app", host=args.host, port=args.port, proxy_headers=False)


def cmd_users(args: argparse.Namespace) -> None:
    from services import auth

    if args.action == "list":
        _print(auth.list_users())
    elif args.action == "add":
        _print(auth.add_user(options=auth.NewUser(email=args.email, name=args.name or "", role=args.role)))
    elif args.action == "set-role":
        _print(auth.set_role(options=auth.SetRoleOptions(email=args.email, role=args.role)))
    else:
        _print(auth.set_disabled(options=auth.SetDisabledOptions(email=args.email, disabled=not args.enable)))


def cmd_tokens(args: argparse.Namespace) -> None:
    from services import auth

    if args.action == "create":
        created = auth.create_token(options=auth.CreateTokenOptions(user_email=args.user, name=args.name or ""))
        _print({"ok": True, "id": created.id, "user": created.user_email, "name": created.name, "token": created.token})
        print("Shown once: only a keyed hash is stored. Send it as `Authorization: Bearer <token>`.", file=sys.stderr)
    elif args.action == "list":
        _print(auth.list_tokens(options=auth.ListTokensOptions(user_email=args.user, all_users=args.user is None)))
    else:
        _print(auth.revoke_token(args.token_id))


def _add_user_commands(sub: Any) -> None:
    roles = [str(r) for r in Role]
    users = sub.add_parser("users", help="people and their roles (viewer, reviewer, admin)").add_subparsers(
        dest="action", required=True
    )
    users.add_parser("list", help="every user with role, last seen and whether disabled")
    p = users.add_parser("add", help="add a user (before or after their first sign-in)")
    p.add_argument("email")
    p.add_argument("--name", help="display name")
    p.add_argument("--role", choices=roles, default=str(Role.viewer))
    p = users.add_parser("set-role", help="change a user's role (it then stays, whatever their groups say)")
    p.add_argument("email")
    p.add_argument("role", choices=roles)
    p = users.add_parser("disable", help="stop a user signing in and their tokens working; --enable undoes it")
    p.add_argument("email")
    p.add_argument("--enable", action="store_true")
    for parser in users.choices.values():
        parser.set_defaults(func=cmd_users)

    tokens = sub.add_parser("tokens", help="personal API tokens").add_subparsers(dest="action", required=True)
    p = tokens.add_parser("create", help="a new token for a user, printed once")
    p.add_argument("--user", required=True, help="the user's email")
    p.add_argument("--name", help="what the token is for, e.g. 'build script'")
    p = tokens.add_parser("list", help="tokens (never the tokens themselves): all, or one user's")
    p.add_argument("--user")
    p = tokens.add_parser("revoke", help="stop a token working, at once")
    p.add_argument("token_id")
    for parser in tokens.choices.values():
        parser.set_defaults(func=cmd_tokens)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services", description="Reshoot from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create or upgrade the database schema").set_defaults(func=cmd_init)

    p = sub.add_parser("demo", help="load the demo set (idempotent) and render its images offline")
    p.add_argument("--no-images", action="store_true", help="load the data only")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", help="import a work-item/storyboard JSON or an export-plan CSV")
    p.add_argument("file")
    p.add_argument("--work-item", help="the work item of a CSV that has no work_item_id column")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("work-items", help="list work items")
    p.add_argument("--json", action="store_true")
    p.add_argument("--search")
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=1000)
    p.set_defaults(func=cmd_work_items)

    p = sub.add_parser("sentences", help="list a storyboard project's sentences")
    p.add_argument("project_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sentences)

    p = sub.add_parser("render", help="render one image with a backend, to a file")
    p.add_argument("--backend", default=None, help="local, openai or comfyui (default: RESHOOT_IMAGE_BACKEND)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--height", type=int, default=1024)
    p.add_argument("--style-lora", default=None, help="a style LoRA name, for backends that take one")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("generate-heroes", help="generate a work item's lifestyle hero images")
    p.add_argument("work_item_id")
    p.add_argument("--shot", action="append", help="a shot id; repeat for several (default: all)")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument(
        "--wait", action="store_true", help="wait for the job and print its result (exit 1 if a shot failed)"
    )
    p.add_argument("--json", action="store_true", help="print JSON (the default; kept for scripts)")
    p.set_defaults(func=cmd_generate_heroes)

    p = sub.add_parser("regenerate-image", help="regenerate a storyboard sentence's image")
    p.add_argument("sentence_id")
    p.add_argument("--seed", type=int, default=None, help="default: a random seed, recorded on the new version")
    p.add_argument("--wait", action="store_true", help="wait for the job and print the new image")
    p.set_defaults(func=cmd_regenerate_image)

    p = sub.add_parser("export", help="a ZIP of a work item's approved heroes with manifest.json and manifest.csv")
    p.add_argument("work_item_id")
    p.add_argument("-o", "--output", help="the ZIP file to write (default: work-item-<id>-approved.zip)")
    p.add_argument("--shot", action="append", help="a shot id; repeat for several (default: all)")
    p.add_argument("--sku", help="only the shots of this SKU")
    p.set_defaults(func=cmd_export)

    sub.add_parser("worker", help="run job consumers (for RESHOOT_QUEUE_URL=redis://…)").set_defaults(func=cmd_worker)
    p = sub.add_parser("workers", help="the workers alive on the queue and what each generates now (JSON)")
    p.add_argument(
        "--expect",
        type=int,
        default=0,
        metavar="N",
        help=f"wait until at least N workers are alive (up to {WORKERS_EXPECT_SECONDS:.0f} s); exit 1 if fewer",
    )
    p.set_defaults(func=cmd_workers)

    p = sub.add_parser("gc", help="republish stale stable hero files and delete orphan files (crash leftovers)")
    p.add_argument(
        "--grace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="only delete orphans older than this (default: RESHOOT_GC_GRACE_SECONDS, 3600)",
    )
    p.add_argument("--dry-run", action="store_true", help="list the orphans, change nothing")
    p.set_defaults(func=cmd_gc)

    p = sub.add_parser("jobs", help="list recent jobs")
    p.add_argument("--json", action="store_true")
    p.add_argument("--status", choices=[str(s) for s in JobStatus])
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("api", help="serve the JSON API (FastAPI + uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_api)

    _add_user_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from services.db import migrate

        if args.command not in ("render",):
            migrate()
        if args.command not in ("render", "users", "tokens"):  # people and tokens touch no job
            import services.job_handlers  # noqa: F401  (every job kind's handlers, for jobs this command runs or reads)
        args.func(args)
    except Exception as e:
        from pydantic import ValidationError

        from services.errors import invalid_from
        from services.operator_errors import plain_error

        error: ReshootError | None
        if isinstance(e, ValidationError):  # an options model refused an argument: INVALID_REQUEST naming it
            error = invalid_from(e)
        else:
            error = e if isinstance(e, ReshootError) else plain_error(e)
        if error is None:
            raise
        _print(error.to_json())
        if error.message != error.code:
            print(error.message, file=sys.stderr)
        return 1
    return 0
