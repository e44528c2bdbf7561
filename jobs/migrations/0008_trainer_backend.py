"""TrainingJob.backend: the Kubeflow API (v1 kinds or Trainer v2's TrainJob) a job was
created for. Existing jobs were all v1."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0007_pod_log_archive")]

    operations = [
        migrations.AddField(
            model_name="trainingjob",
            name="backend",
            field=models.CharField(
                choices=[
                    ("v1", "Kubeflow training-operator v1 kinds"),
                    ("v2", "Kubeflow Trainer v2 TrainJob"),
                ],
                default="v1",
                max_length=2,
            ),
        ),
    ]
