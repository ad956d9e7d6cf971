"""The embedded, offline security scanner (issue 17): indexer, vulnerability database, matcher.

``layers`` streams one layer and keeps only the files the scanner reads; ``indexer`` merges
the layers of a manifest (whiteouts honoured) into an inventory whose packages carry the layer
that introduced them; ``packages`` parses the package databases; ``vulndb`` imports upstream
vulnerability data into a SQLite file swapped in atomically; ``matcher`` matches an inventory
against it with each ecosystem's version ordering (``versions``). None of it touches the
network or unpacks a layer to disk.
"""
