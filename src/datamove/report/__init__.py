"""The end of the migration: the report computed from the state store, its checklist ticked by
evidence, sign-offs bound to a digest of that evidence, and a row's lineage (``trace``)."""
