# The app's first migration holds nothing: each area of monitoring adds its tables in its own
# migration after this one, so they can be written side by side.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = []
