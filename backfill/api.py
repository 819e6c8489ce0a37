"""Internal backfill endpoints, for the cron caller (X-Cron-Secret) or staff."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backfill.selectors import backfill_stats
from backfill.serializers import ScheduleInput, ScheduleOutput, SeedOutput, StatsOutput
from backfill.services import backfill_claim_months, backfill_seed
from controlplane.api.permissions import CRON_SECRET_HEADER, CronSecretOrStaff
from controlplane.api.schema import enveloped, error_responses

CRON_HEADER = OpenApiParameter(
    CRON_SECRET_HEADER, str, OpenApiParameter.HEADER, required=False, description="Cron secret."
)


class _InternalView(APIView):
    # Unauthenticated callers failing the permission get 401 (JWT's WWW-Authenticate header).
    permission_classes = [CronSecretOrStaff]


class SeedBackfillQueueView(_InternalView):
    """Insert the months of 2000-2024 that have no backfill_log row yet."""

    staff_permission = "backfill.manage_backfill"

    @extend_schema(
        request=None,
        parameters=[CRON_HEADER],
        responses={200: enveloped("BackfillSeed", SeedOutput), **error_responses(401, 403)},
    )
    def post(self, request: Request) -> Response:
        result = backfill_seed()
        return Response({"data": SeedOutput(asdict(result)).data})


class ScheduleBackfillView(_InternalView):
    """Claim the next schedulable months (newest first) and enqueue a job for each."""

    staff_permission = "backfill.manage_backfill"

    @extend_schema(
        request=ScheduleInput,
        parameters=[CRON_HEADER],
        responses={
            200: enveloped("BackfillSchedule", ScheduleOutput),
            **error_responses(400, 401, 403),
        },
    )
    def post(self, request: Request) -> Response:
        data = ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        year_range = params.get("year_range")
        result = backfill_claim_months(
            batch_size=params["batch_size"],
            max_months=params["max_months"],
            force_retry=params["force_retry"],
            dry_run=params["dry_run"],
            year_range=(year_range["start"], year_range["end"]) if year_range else None,
        )
        return Response({"data": ScheduleOutput(asdict(result)).data})


class BackfillStatsView(_InternalView):
    """Report status counts, totals, the overall resolution rate and the 20 newest changes."""

    staff_permission = "backfill.view_backfilllog"

    @extend_schema(
        parameters=[CRON_HEADER],
        responses={200: enveloped("BackfillStats", StatsOutput), **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response({"data": StatsOutput(backfill_stats()).data})
