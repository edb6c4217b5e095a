"""The API's routers, one module per domain (status, datasets, dataset versions, training, runs, evaluation,
export, predict, models, quality, tuning, pipelines, storage), each a `router(ctx)` factory over the shared
ApiContext. They may import mlcore.api's own modules (context, errors, bodies, job_report) and the mlcore packages
below the API; never mlcore.cli, mlcore.worker or streamlit."""
