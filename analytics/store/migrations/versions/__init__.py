"""The revisions: ``NNNN_*.py`` runs step NNNN of :data:`analytics.store.schema.MIGRATIONS`."""
