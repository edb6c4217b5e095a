"""The `python -m mlcore` command line: the entry and the dispatch (`main`), one module per command group
(`train`, `evaluate`, `export`, `runs`, `jobs`, `serve`, `system`, `validate`, `datasets`, `predict`, `models`,
`quality`, `tuning`, `cluster`, `augmentation`), following a job to its end (`follow`) and the terminal printing
(`printing`).

May import: any mlcore package; nothing imports it but mlcore.__main__."""
