from snnas._version import __version__
