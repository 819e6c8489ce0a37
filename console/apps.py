"""The console: the admin site whose front page is the operations dashboard."""

import django.contrib.admin.apps as admin_apps
from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Console"
    default = True


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """Django's admin app with the console's AdminSite as `admin.site`."""

    default = False
    default_site = "console.sites.ConsoleAdminSite"
