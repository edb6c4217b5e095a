"""The model registry: registered versions with their lineage and aliases (`production`, `staging`), the
audit trail of every change, the promotion gate, A/B comparisons started on versions (`ab`), and one way to
name a model everywhere (`references`: a path, a run, NAME:N, NAME@ALIAS or an export folder).

May import: every package below it (core … predict, compare, quality)."""
