"""GET /api/jobs/<id>: a job's status, visible to the owning project's token or staff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.auth import request_project_id
from controlplane.api.schema import enveloped, error_responses
from jobs.models import Job
from jobs.selectors import job_get
from jobs.serializers import JobOutputSerializer

# (job, request, stored result) → the result this reader sees; e.g. a fresh download link.
ResultPresenter = Callable[[Job, Request, dict[str, Any]], dict[str, Any]]
_RESULT_PRESENTERS: dict[str, ResultPresenter] = {}


def result_presenter(job_type: str) -> Callable[[ResultPresenter], ResultPresenter]:
    """Register how a job type's stored result is shown to an API reader."""

    def register(presenter: ResultPresenter) -> ResultPresenter:
        _RESULT_PRESENTERS[job_type] = presenter
        return presenter

    return register


class JobDetailView(APIView):
    """Return one job; another project's job is 404, so its existence does not leak."""

    staff_permission = "jobs.view_job"

    @extend_schema(
        responses={200: enveloped("Job", JobOutputSerializer), **error_responses(401, 403, 404)}
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = job_get(job_id=job_id)
        bound = request_project_id(request)
        if job is None or (
            bound is not None and (job.project is None or job.project.slug != bound)
        ):
            raise NotFound("No such job.")
        data = JobOutputSerializer(job).data
        presenter = _RESULT_PRESENTERS.get(job.type)
        if presenter is not None and isinstance(data.get("result"), dict):
            data["result"] = presenter(job, request, dict(data["result"]))
        return Response({"data": data})
