"""The "Platform operators" group: every namespace, plus the admin pages operators use.

Permissions are normally created after all migrations ran (post_migrate); they are created
here first so the group can hold them on a fresh database.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Platform operators"
PERMISSIONS = (
    ("jobs", "operate_all_namespaces"),
    ("jobs", "view_trainingjob"),
    ("jobs", "change_trainingjob"),
    ("jobs", "view_jobevent"),
    ("jobs", "view_namespacegrant"),
    ("jobs", "add_namespacegrant"),
    ("jobs", "change_namespacegrant"),
    ("jobs", "delete_namespacegrant"),
    ("clusters", "view_membercluster"),
)


def create_group(apps, schema_editor):
    for label in ("jobs", "clusters"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("clusters", "0002_member_cluster_node_shapes"),
        ("jobs", "0003_operate_all_namespaces_permission"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
