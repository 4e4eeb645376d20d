"""Tracking writes an MLflow server did not take, kept on disk in order and replayed once it
answers again (issue 32.9: a sweep that runs for hours must not hang on, or silently lose
what it logs to, a tracking server that went away).

A folder, STORAGE/EXPERIMENT/<sweep>/irn_outbox/:
  outbox.jsonl   one write per line: {"op", "run", ...}, in the order the sweep made them
  files/ID/NAME  the files of logged artifacts (copied: the sweep's temporary files go away)
  done.json      {"done": N, "ids": {pending id: MLflow run id}}: how far a replay got

Replays are idempotent, so a write the server took just before it stopped answering (its
reply lost) is not doubled: MLflow keeps one row per metric (key, timestamp, step, value),
and every metric keeps the timestamp it got when the sweep first logged it; tags, params,
statuses and artifacts overwrite with the same value; a run created while the server was
away (a pending id) is first looked up by its trial id. `python -m bench.sync FOLDER`
replays an outbox by hand; `bench.sweep --resume` replays its own before it starts.
"""
import json
import os
import shutil
import uuid

from bench.common.cli import write_json_atomic

OUTBOX_DIR = "irn_outbox"
PENDING = "pending-"  # the prefix of a run id MLflow has not given yet


def new_pending_id() -> str:
    return PENDING + uuid.uuid4().hex[:16]


class Outbox:
    def __init__(self, folder: str):
        self.folder = folder
        self.path = os.path.join(folder, "outbox.jsonl")
        self.done_path = os.path.join(folder, "done.json")
        self.meta_path = os.path.join(folder, "meta.json")

    def meta(self) -> dict:
        """{"tracking_uri", "experiment"} the writes were meant for ({} when none kept)."""
        if not os.path.isfile(self.meta_path):
            return {}
        with open(self.meta_path, encoding="utf-8") as f:
            return json.load(f)

    def set_meta(self, tracking_uri: str, experiment: str) -> None:
        if not os.path.isfile(self.meta_path):
            os.makedirs(self.folder, exist_ok=True)
            write_json_atomic(self.meta_path, {"tracking_uri": tracking_uri,
                                               "experiment": experiment})

    # -- writing ----------------------------------------------------------------------------
    def add(self, record: dict, files: dict | None = None) -> None:
        """Append one write; `files`: {key: path} of files it needs, copied in now."""
        for key, path in (files or {}).items():
            # a folder of its own per file: the artifact keeps its name
            kept = os.path.join("files", uuid.uuid4().hex[:12], os.path.basename(path))
            os.makedirs(os.path.dirname(os.path.join(self.folder, kept)))
            shutil.copyfile(path, os.path.join(self.folder, kept))
            record[key] = kept
        os.makedirs(self.folder, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # -- reading ----------------------------------------------------------------------------
    def records(self) -> list[dict]:
        if not os.path.isfile(self.path):
            return []
        with open(self.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def progress(self) -> dict:
        if not os.path.isfile(self.done_path):
            return {"done": 0, "ids": {}}
        with open(self.done_path, encoding="utf-8") as f:
            return json.load(f)

    def pending(self) -> list[dict]:
        return self.records()[self.progress()["done"]:]

    def counts(self) -> dict:
        """What is not logged yet: metric values, params, tags, artifacts, run statuses,
        runs created, and how many runs they touch."""
        out = {"metric values": 0, "params": 0, "tags": 0, "artifacts": 0,
               "run statuses": 0, "runs created": 0}
        runs = set()
        for r in self.pending():
            runs.add(r["run"])
            if r["op"] == "batch":
                out["metric values"] += len(r.get("metrics", ()))
                out["params"] += len(r.get("params", ()))
                out["tags"] += len(r.get("tags", ()))
            elif r["op"] in ("artifact", "text"):
                out["artifacts"] += 1
            elif r["op"] == "status":
                out["run statuses"] += 1
            elif r["op"] == "create":
                out["runs created"] += 1
        return {**{k: v for k, v in out.items() if v}, "runs": len(runs)} if runs else {}


    # -- replay -----------------------------------------------------------------------------
    def replay(self, send) -> int:
        """Send every pending write with `send(record, ids)` in order (ids: pending id ->
        MLflow run id, which `send` extends for created runs); progress is saved after each,
        so a replay cut short goes on where it stopped. Returns how many were sent; the
        folder is removed once all are."""
        state = self.progress()
        records = self.records()
        start = state["done"]
        for i in range(start, len(records)):
            send(records[i], state["ids"])
            state["done"] = i + 1
            write_json_atomic(self.done_path, state)
        shutil.rmtree(self.folder, ignore_errors=True)
        return len(records) - start


def describe(counts: dict) -> str:
    """Outbox.counts in words: "88 metric values, 19 tags, ... of 2 run(s)"."""
    c = dict(counts)
    runs = c.pop("runs", 0)
    return ", ".join(f"{v} {k}" for k, v in c.items()) + f" of {runs} run(s)"
