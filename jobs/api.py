"""GET /api/jobs/<id>: a job's status, visible to the owning project's token or staff."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.auth import request_project_id
from controlplane.api.schema import enveloped, error_responses
from jobs.selectors import job_get
from jobs.serializers import JobOutputSerializer


class JobDetailView(APIView):
    """Return one job; another project's job is 404, so its existence does not leak."""

    @extend_schema(
        responses={200: enveloped("Job", JobOutputSerializer), **error_responses(401, 404)}
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = job_get(job_id=job_id)
        bound = request_project_id(request)
        if job is None or (
            bound is not None and (job.project is None or job.project.slug != bound)
        ):
            raise NotFound("No such job.")
        return Response({"data": JobOutputSerializer(job).data})
