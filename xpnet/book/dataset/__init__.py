"""The book's ``dataset`` package, answered by xpnet: ``dataset.mnist``."""
