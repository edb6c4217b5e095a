"""Dataset validation: the checks, their options and report, the process pool that reads
images, the cache of image facts, saved reports and background validation tasks.

May import: mlcore.core and the rest of mlcore.datasets."""
