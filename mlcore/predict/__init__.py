"""Using a model: deployment profiles (the thresholds a model is deployed with, chosen from an
evaluation), the predictor process that keeps models loaded for the app and the HTTP API, and batch
prediction jobs over a folder of images or a video.

Floor 10: may import everything below it (core .. export); the API and the command line import it.
"""
