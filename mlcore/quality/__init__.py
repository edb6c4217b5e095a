"""Know your data: a label-error audit, the images to label next, and a drift report, each a job.

May import: every package below it (core … export, predict)."""
