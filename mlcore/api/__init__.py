"""The HTTP API (FastAPI): app.py wires the app, routes/ holds one router per domain, context.py and errors.py
what they share. It may import any mlcore package below it (core, engine, datasets, devices, jobs, training,
runs, system, charts, evaluation, export, predict); never mlcore.cli, mlcore.worker or streamlit."""
