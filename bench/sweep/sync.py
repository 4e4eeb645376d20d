"""`python -m bench.sync OUTBOX [--tracking-uri URI]`: log the tracking writes a sweep kept
on disk while its MLflow server did not answer (bench/common/outbox.py), in the order it made them.

OUTBOX is the folder the sweep named in its "not logged" line
(STORAGE/EXPERIMENT/<sweep>/irn_outbox). The writes go to the tracking URI and experiment
they were meant for, or to --tracking-uri (the same server at a new address). Replaying is
idempotent: a write MLflow already holds is not doubled, and a sync cut short goes on where
it stopped. Exit 0 when everything is logged, 2 on bad input or a server that does not
answer (one line; the outbox is kept).
"""
import os
import sys

from bench.common.cli import OneLineParser, UsageError, fail
from bench.common.outbox import Outbox, describe


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.sync", description=__doc__.splitlines()[0])
    p.add_argument("outbox", help="the irn_outbox folder a sweep named")
    p.add_argument("--tracking-uri", help="log to this MLflow server instead")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    box = Outbox(os.path.abspath(args.outbox))
    try:
        meta = box.meta()
        if not meta or not os.path.isfile(box.path):
            raise UsageError(f"{args.outbox}: not a sweep's outbox (no meta.json and "
                             "outbox.jsonl)")
        todo = len(box.pending())
        if not todo:
            print(f"{args.outbox}: nothing left to log")
            return 0
        uri = args.tracking_uri or meta["tracking_uri"]
        from bench.common.tracking import Tracker, TrackingError, check_tracking_reachable, is_server
        if not is_server(uri):
            raise UsageError(f"--tracking-uri {uri}: an outbox is logged to an MLflow server "
                             "(http:// or https://)")
        check_tracking_reachable(uri)
        what = describe(box.counts())
        try:
            Tracker(uri, meta["experiment"], outbox=box.folder)  # replays it on opening
        except TrackingError as e:
            raise UsageError(str(e)) from None
    except UsageError as e:
        return fail(e)
    print(f"logged to {uri}: {what} ({todo} write(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
