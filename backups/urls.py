"""HTTP routes of the backups app (included at the site root by controlplane.urls)."""

from django.urls import path

from backups import api

app_name = "backups"

urlpatterns = [
    path("api/backup/export", api.BackupExportView.as_view(), name="export"),
    path("api/backups", api.BackupListView.as_view(), name="list"),
    path(
        "api/backups/<uuid:backup_id>/download", api.BackupDownloadView.as_view(), name="download"
    ),
    path("api/backups/files/<str:token>", api.BackupFileView.as_view(), name="file"),
]
