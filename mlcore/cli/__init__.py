"""The `python -m mlcore` command line: the parser and one function per command (`main`), and
the terminal printing (`printing`).

May import: any mlcore package; nothing imports it but mlcore.__main__."""
