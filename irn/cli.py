"""Command-line plumbing shared by every command (irn.rescale here, bench.* through bench.common.cli):
bad usage is one line and exit status 2."""
import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit 2 (the CLI contract), instead of
    usage + message."""
    error_prefix = ""

    def error(self, message):
        self.exit(2, f"{self.error_prefix}error: {message} (see --help)\n")
