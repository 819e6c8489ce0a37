"""Create the demo superuser and provisioned demo projects (idempotent); print how to use them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from psycopg import sql

from controlplane.embedded_pg import default_cluster
from controlplane.models import Project, ProjectStatus
from controlplane.services import project_create, project_suspend
from provisioning.models import ApiKey
from provisioning.services.api_keys import api_key_issue, api_key_revoke
from provisioning.services.provision import provision_project_run

DEMO_USERNAME = "admin"
DEMO_PROJECTS = [
    ("acme-shop", "Acme Shop"),
    ("globex", "Globex Corporation"),
    ("initech", "Initech"),
]
SUSPENDED_DEMO = "initech"
DEMO_KEY_NAME = "demo (make run)"
JSON = "-H 'Content-Type: application/json'"
# A shell function: `... | data result download_url` prints response["data"]["result"][...].
DATA_HELPER = (
    "data() { python3 -c 'import functools, json, sys; print(functools.reduce("
    'lambda d, k: d[k], sys.argv[1:], json.load(sys.stdin)["data"]))\' "$@"; }'
)


def demo_password() -> str:
    """Return DEMO_ADMIN_PASSWORD, or a random one kept beside the embedded cluster."""
    if os.environ.get("DEMO_ADMIN_PASSWORD"):
        return os.environ["DEMO_ADMIN_PASSWORD"]
    path = Path(default_cluster().root) / "demo-admin-password"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def demo_tables(project: Project) -> None:
    """Give a demo tenant a couple of tables with rows, so exports have something to dump."""
    schema = sql.Identifier(project.schema_name)
    statements = [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.customers (id int PRIMARY KEY, name text NOT NULL)"
        ).format(schema),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.orders (id int PRIMARY KEY,"
            " customer_id int REFERENCES {}.customers, total numeric(10, 2))"
        ).format(schema, schema),
        sql.SQL(
            "INSERT INTO {}.customers SELECT g, 'Customer ' || g FROM generate_series(1, 50) g"
            " ON CONFLICT DO NOTHING"
        ).format(schema),
        sql.SQL(
            "INSERT INTO {}.orders SELECT g, 1 + g % 50, g * 1.5 FROM generate_series(1, 500) g"
            " ON CONFLICT DO NOTHING"
        ).format(schema),
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


class Command(BaseCommand):
    help = "Create the demo admin user and provisioned demo projects; print credentials and a key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL to print")

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        password = demo_password()
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USERNAME, "admin@localhost", password)
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])

        for slug, name in DEMO_PROJECTS:
            project = Project.objects.filter(slug=slug).first()
            if project is None:
                project = project_create(slug=slug, name=name, actor=user)
            if project.status == ProjectStatus.PROVISIONING:
                provision_project_run(project_id=project.pk, services={}, api_key_count=1)
                demo_tables(project)
                if slug == SUSPENDED_DEMO:
                    project_suspend(
                        project_ids=[project.pk], actor=user, reason="Demo: unpaid invoice"
                    )

        # A fresh demo key each start (the previous one is revoked): keys are shown only once.
        acme = Project.objects.get(slug="acme-shop")
        old = ApiKey.objects.filter(project=acme, name=DEMO_KEY_NAME, revoked_at__isnull=True)
        api_key_revoke(
            key_ids=list(old.values_list("pk", flat=True)), actor=user, reason="demo restart"
        )
        _, api_key = api_key_issue(project=acme, name=DEMO_KEY_NAME, actor=user)

        base = url.rstrip("/")
        projects = ", ".join(
            f"{p.slug} ({p.status.lower()})" for p in Project.objects.order_by("slug")
        )
        auth = '-H "Authorization: Bearer $TOKEN"'
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Control plane is up:",
                    f"  admin     {base}/admin/   user: {DEMO_USERNAME}   password: {password}",
                    f"  API docs  {base}/api/docs/",
                    f"  health    {base}/healthz  {base}/readyz",
                    f"  demo projects: {projects}",
                    f"  API key for acme-shop (shown once): {api_key}",
                    "  try it in a shell (bash or zsh; python3 picks fields out of the JSON):",
                    f"    {DATA_HELPER}",
                    f"    TOKEN=$(curl -s -X POST {base}/api/auth/token {JSON} \\",
                    f'      -d \'{{"api_key": "{api_key}"}}\' | data access_token)',
                    f"    JOB=$(curl -s -X POST {base}/api/backup/export {JSON} {auth} \\",
                    '      -d \'{"project_id": "acme-shop"}\' | data job_id)',
                    f"    curl -s {base}/api/jobs/$JOB {auth} | data status"
                    "   # again until: completed",
                    f'    curl -s -o acme-shop.sql.gz "$(curl -s {base}/api/jobs/$JOB {auth} \\',
                    '      | data result download_url)" && gunzip -c acme-shop.sql.gz | head',
                    "  stop with Ctrl-C (or SIGTERM; a backgrounded make ignores SIGINT).",
                    "",
                ]
            )
        )
