"""The command line: a thin adapter over ``datamove.Migration``."""
