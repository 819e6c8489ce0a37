"""The shared admin pieces: one badge for every status, one confirmed-action flow, one layout."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from backfill.models import BackfillStatus
from controlplane.admin_helpers import BADGE_COLOURS, age, badge_colour, exact_time, status_badge
from controlplane.models import Project, ProjectStatus
from jobs.models import AttemptOutcome, Job, JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job
from provisioning.models import RegistrationStatus, StepStatus
from provisioning.project_admin import ProjectAdmin
from tests import factories
from tests.jobs import sample_handlers  # noqa: F401  (registers test.permanent, test.echo)

JOBS = reverse("admin:jobs_job_changelist")
PROJECTS = reverse("admin:controlplane_project_changelist")


@pytest.mark.parametrize(
    "choices", [JobStatus, ProjectStatus, BackfillStatus, RegistrationStatus, StepStatus]
)
def test_badge_colour__every_status_of_every_model_has_one(choices: type) -> None:
    missing = [c.value for c in choices if c.value.lower() not in BADGE_COLOURS]
    assert missing == []


def test_status_badge__escapes_and_colours() -> None:
    html = status_badge("FAILED", "<b>x</b>")
    assert badge_colour("failed") in html and "&lt;b&gt;" in html
    assert AttemptOutcome.TIMEOUT.value  # outcomes are mapped onto job colours in jobs.admin


def test_project_admin__one_registration_from_provisioning() -> None:
    # The console site puts its mixins in front of every ModelAdmin (admin_history.py).
    registered = type(admin.site.get_model_admin(Project))
    assert registered.__bases__[1] is ProjectAdmin
    actions = ProjectAdmin.actions
    assert actions is not None
    assert {"suspend", "reactivate", "rotate_keys", "retry_provisioning"} <= set(actions)


@pytest.mark.django_db(transaction=True)
def test_confirmed_action__says_how_many_are_skipped_and_why(client: Client) -> None:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    failed, _ = enqueue_job(type="test.permanent", payload={})
    execute_job(str(failed.pk))
    pending, _ = enqueue_job(type="test.echo", payload={"value": 1})
    data = {"action": "retry", "_selected_action": [failed.pk, pending.pk], "index": 0}

    page = client.post(JOBS, data).content.decode()
    assert "<strong>1</strong> job(s)" in page
    assert "1 selected job(s) are neither failed nor cancelled and will be left alone." in page
    assert str(failed.pk) in page.split('id="affected-jobs"')[1].split("</ul>")[0]

    done = client.post(JOBS, {**data, "confirm": "yes"}, follow=True).content.decode()
    assert "Queued 1 job(s) for another attempt." in done
    assert "Skipped 1 job(s) that are neither failed nor cancelled." in done
    assert Job.objects.get(pk=pending.pk).status == JobStatus.PENDING


@pytest.mark.django_db
def test_confirmed_action__nothing_eligible_offers_only_back(client: Client) -> None:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    suspended = factories.project(slug="gone-shop", status=ProjectStatus.SUSPENDED)
    page = client.post(PROJECTS, {"action": "suspend", "_selected_action": [suspended.pk]})
    html = page.content.decode()
    assert "None of the selected projects can be changed this way." in html
    assert 'name="_confirm"' not in html
    assert "1 selected project(s) are in another status" in html


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5 s"),
        (59.4, "59 s"),
        (61, "1 min"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (86400, "1 day"),
        (3 * 86400 + 5, "3 days"),
        (-120, "2 min"),
    ],
)
def test_age__short_and_readable(seconds: float, text: str) -> None:
    assert age(seconds) == text


def test_exact_time__seconds_and_age_or_due() -> None:
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(minutes=16, seconds=5)
    html = exact_time(past)
    assert past.strftime("%Y-%m-%d %H:%M:%S") in html and "16 min ago" in html
    assert "in 2 h" in exact_time(timezone.now() + timedelta(hours=2, seconds=30))
    assert exact_time(None) == "—"
