"""The scripts here are run by tests/test_book.py through `xpnet book run`; pytest never imports them."""

collect_ignore_glob = ["*.py", "*/*.py"]
