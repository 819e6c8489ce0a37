from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0005_exportrequest_verbose_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="backup",
            name="compression",
            field=models.CharField(
                choices=[("gzip", "gzip"), ("zstd", "zstd"), ("none", "Uncompressed")],
                max_length=4,
                null=True,
            ),
        ),
        # Before zstd, a compressed backup was always gzip.
        migrations.RunSQL(
            "UPDATE backups_backup SET compression = CASE WHEN compressed THEN 'gzip' "
            "ELSE 'none' END",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="backup",
            name="compression",
            field=models.CharField(
                choices=[("gzip", "gzip"), ("zstd", "zstd"), ("none", "Uncompressed")],
                max_length=4,
            ),
        ),
        migrations.AddConstraint(
            model_name="backup",
            constraint=models.CheckConstraint(
                condition=Q(compression__in=["gzip", "zstd", "none"]),
                name="backup_compression_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="backup",
            constraint=models.CheckConstraint(
                condition=Q(compressed=True, compression__in=["gzip", "zstd"])
                | Q(compressed=False, compression="none"),
                name="backup_compressed_matches_codec",
            ),
        ),
    ]
