"""Figures and pictures: data in, a Plotly figure or an image out. One module per page or topic
(system, datasets, training, metrics, evaluation, compare), boxes drawn on images (`drawing`), and a
run's charts written as PNGs and a self-contained report (`report`).

May import: mlcore.core, mlcore.datasets, mlcore.runs (and the packages below them); never evaluation."""
