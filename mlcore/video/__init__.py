"""Video as video: objects tracked across frames, and counted across lines and in zones."""
