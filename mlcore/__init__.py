"""mlcore: the work behind ML Studio, from a folder of labelled images to a model that serves predictions.

Its packages stand on floors: a module imports only from its own package and from lower floors
(tests/test_architecture.py holds this list to the floors it enforces):

    0   core        settings, file names, allowed paths, the spec toolkit, shared refusals
    1   engine      the face on Ultralytics and torch, always imported lazily
    1   tracking    the optional MLflow bridge
    1   storage     S3-compatible buckets: locations, datasets pulled into a cache
    2   datasets    YOLO datasets: loading, validation, versions, repair, COCO
    3   devices     GPUs, the PyTorch probe, device strings and leases
    3   cluster     the studio's side of a Ray cluster
    4   jobs        the job kinds, the job store, scheduler, progress, Stop and Cancel
    5   training    the training spec, its four modes, the worker's training task
    6   runs        training runs on disk, their metrics and comparisons
    6   system      this machine's state and troubleshooting hints
    7   charts      figures and pictures, and a run's chart report
    8   evaluation  model evaluation, error types, galleries, leakage
    8   tuning      hyperparameter studies with Optuna
    9   export      ONNX, OpenVINO, TorchScript and TensorRT with a parity check
    10  explain     per-box saliency maps: gradient (LayerCAM) for .pt models, D-RISE for exports
    11  predict     deployment profiles, the predictor process, batch predictions
    12  compare     A/B comparisons of two models on one split
    12  quality     label audit, images to label next, drift
    12  video       video as video: tracks across frames, counts across lines and in zones
    13  registry    registered model versions, aliases, lineage, the promotion gate
    14  pipelines   declared runs: train, evaluate, gate, export, register, for CI jobs
    15  api         the HTTP API
    16  cli         the command line

`worker.py` (python -m mlcore.worker JOB_ID) and `__main__.py` (python -m mlcore) sit on top, and
nothing imports them.

Importing `mlcore` or any of its modules never imports torch, ultralytics or streamlit: heavy
libraries are imported inside the functions that run in worker processes.

Command line: `python -m mlcore --help`.
"""

__version__ = "0.1.0"
