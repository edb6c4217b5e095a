"""The only code that touches Ultralytics or torch, and always lazily: the offline engine
environment, checkpoint inspection (in a child process), and Ultralytics results as plain data.

May import: mlcore.core."""
