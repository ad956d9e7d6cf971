"""The database schema as a whole: every feature's models in one metadata (``models``) and
the Alembic migrations that build and upgrade it (``migrate``, ``migrations/``).

It sits above the features (it imports every model module), beside the composition root:
``berth.db`` below it knows sessions and units of work, not which tables exist.
"""
