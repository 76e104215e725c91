"""The wall time of a run that may take several invocations (a run killed and started again)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

from ..paths import runs_dir, write_atomically


class Invocations:
    """The wall time of every invocation (``./run_all.sh``) that worked on the current run of a profile.

    A run killed and started again is one run in several invocations. Each invocation is written to
    ``runs/<profile>/invocations.json`` when it starts and then every ``heartbeat`` seconds (a kill
    loses at most that much of its time), with the wall time of each notebook it finished. ``finish``
    returns all of them and clears the file, so that the next invocation starts the next run; ``stop``
    (a failed notebook) keeps it, so that the invocation that resumes the run counts this one's time.
    """

    def __init__(self, profile: str, heartbeat: float = 10.0) -> None:
        self.path = runs_dir(profile) / "invocations.json"
        self.heartbeat = heartbeat
        earlier = json.loads(self.path.read_text()) if self.path.exists() else []
        self.entries = earlier + [{"started": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S UTC}",
                                   "seconds": 0.0, "notebooks": {}}]
        self._start = time.perf_counter()
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._save()
        self._beat = threading.Thread(target=self._beating, daemon=True)
        self._beat.start()

    def notebook_done(self, name: str, seconds: float) -> None:
        """Record that this invocation executed notebook ``name`` in ``seconds`` (a ``Done``)."""
        with self._lock:
            self.entries[-1]["notebooks"][name] = round(seconds, 1)
            self._save()

    def finished(self) -> set[str]:
        """The notebooks that earlier invocations of this run executed (empty for a new run)."""
        return {name for entry in self.entries[:-1] for name in entry["notebooks"]}

    def executed(self) -> set[str]:
        """The notebooks this run has executed so far, in every invocation, this one included."""
        with self._lock:
            return {name for entry in self.entries for name in entry["notebooks"]}

    def stop(self) -> None:
        """Stop the heartbeat after a last write; the file stays for the invocation that resumes the run."""
        self._stopped.set()
        self._beat.join()
        self._save()

    def finish(self) -> list[dict]:
        """Stop, clear the file (the run is complete) and return every invocation of the run, oldest first."""
        self.stop()
        self.path.unlink(missing_ok=True)
        return self.entries

    def _save(self) -> None:
        with self._lock:
            self.entries[-1]["seconds"] = round(time.perf_counter() - self._start, 1)
            text = json.dumps(self.entries, indent=1) + "\n"
            write_atomically(self.path, lambda tmp: tmp.write_text(text))

    def _beating(self) -> None:
        while not self._stopped.wait(self.heartbeat):
            self._save()


def notebook_times(invocations: list[dict]) -> dict[str, float]:
    """Each notebook's wall time summed over the invocations that executed it (in order of execution)."""
    times: dict[str, float] = {}
    for invocation in invocations:
        for name, seconds in invocation["notebooks"].items():
            times[name] = times.get(name, 0.0) + seconds
    return times
