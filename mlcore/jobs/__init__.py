"""Jobs of every kind: the SQLite store (`open_store`), the scheduler (reconcile, lease, launch),
progress and logs (`progress`), Stop and Cancel with the owner check (`control`), and how every job
ends (`ending`).

May import: mlcore.core, mlcore.engine, mlcore.datasets, mlcore.devices."""
