"""Stage 7: scheduled reconciliation of a moving target (``datamove reconcile``).

``live`` says which side takes writes now (from the cutover's recorded steps) and reads its
changelog; ``moving`` judges differences found while writes go on (fence point, re-checks
after sync, ``persist_for``); ``rounds`` runs one recorded round (full or incremental);
``notify`` calls the webhook; ``history`` reads the rounds back as a trend.
"""
