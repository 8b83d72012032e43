"""Full-text search index on PostgreSQL only.

The browse page searches `to_tsvector('english', title || ' ' || description)`; a GIN index on
that same expression (listings.selectors.SEARCH_VECTOR) keeps search fast at 100k+ listings.
SQLite has no GIN and searches with LIKE instead, so the index is created on PostgreSQL alone and
is not part of the model state.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

INDEX = GinIndex(
    SearchVector("title", "description", config="english"), name="listing_search_gin_idx"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("listings", "Listing"), INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("listings", "Listing"), INDEX)


class Migration(migrations.Migration):
    dependencies = [("listings", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
