"""The ``docker`` backend: one throwaway container per job, started with a deadline (a client-side timeout
alone does not stop a container), always killed and removed by id.

Nothing is bind-mounted: the job goes in on the container's stdin and results come back on its stdout,
size-capped, so the worker never reads a path the sandbox controls and works the same from a container
of its own. The harness's parent runs as root with only CAP_SETUID, CAP_SETGID (to start each child under
a uid of its own, QUANTPREP_SANDBOX_UIDS) and CAP_KILL (to end a child of another uid): a child can then
neither signal the parent nor open its files, nor reach PID 1's stdout. A child loses every capability
when it changes uid."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime

from sandbox.job import Job, RunResult, SandboxUnavailable, stdin_feed
from sandbox.pool import WarmBackend

log = logging.getLogger("sandbox")
LABEL = "org.quantprep.sandbox.job"
# Which worker started a container: its Celery node name (labs.tasks sets QUANTPREP_SANDBOX_OWNER before the
# pool forks; node names are unique per host), else the host name. Several workers share one engine (scaled
# worker containers, a gpu-worker beside a worker, two deployments on one host): a worker sweeps only its
# own leftovers, never a sibling's job in flight.
OWNER_LABEL = "org.quantprep.sandbox.owner"
# Which run of that worker: a restarted worker keeps its node name but not this (labs.tasks sets
# QUANTPREP_SANDBOX_RUN beside the owner), so its sweep at start removes what its dead predecessor left and
# not the warm sandboxes its own pool processes are already starting.
RUN_LABEL = "org.quantprep.sandbox.run"
_THIS_PROCESS_RUN = secrets.token_hex(8)


def owner() -> str:
    return os.environ.get("QUANTPREP_SANDBOX_OWNER") or socket.gethostname()


def run_id() -> str:
    return os.environ.get("QUANTPREP_SANDBOX_RUN") or _THIS_PROCESS_RUN


def worker_cpus() -> str | None:
    """The cores this worker was pinned to (``taskset``), if it was: its sandboxes run there too, so a job
    timed on them never shares a core with a neighbouring worker's."""
    cpus = os.sched_getaffinity(0)
    return ",".join(map(str, sorted(cpus))) if len(cpus) < (os.cpu_count() or 0) else None


PYTHON = "/opt/venv/bin/python"
CHILD_UIDS = "65533:65534"  # the reference's child, the submission's child
STALE_S = 600  # a sandbox container stopped this long ago belongs to no live worker's job
JOB_CPU_SHARES, WARM_CPU_SHARES = 1024, 2  # cgroup CPU weights: a waiting warm container yields to any job


class DockerBackend(WarmBackend):
    name = "docker"

    def __init__(self, image: str):
        self.image = image
        self._client = None

    @property
    def client(self):
        """Made on first use: making one asks the engine for its API version, and an engine that does not
        answer now is SandboxUnavailable, asked again next time."""
        if self._client is None:
            import docker

            try:
                self._client = docker.from_env(timeout=30)
            except docker.errors.DockerException as exc:
                raise SandboxUnavailable(f"no Docker engine answers: {exc}") from exc
        return self._client

    def probe(self) -> str | None:
        """Why jobs cannot run now (no engine, no image), or None when they can. Never cached."""
        try:
            self.client.images.get(self.image)
            return None
        except Exception as exc:  # noqa: BLE001 - any failure is the reason, said as it is
            return f"{type(exc).__name__}: {exc}"[:300]

    def sweep(self, stale_s: float = STALE_S, *, this_run_too: bool = False) -> int:
        """Remove the containers a dead worker left (called at worker start): those with this worker's own
        owner label from an earlier run, and any worker's that stopped, or were never started, more than
        ``stale_s`` ago (a recreated worker container never comes back under its old name to remove its
        own). A sibling's job, running or just finished, is left alone. With ``this_run_too`` (at the
        worker's stop, once its pool processes have exited) this run's own go as well."""
        mine = [c for c in self.client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner()}"})
                if this_run_too or c.labels.get(RUN_LABEL) != run_id()]
        stopped = self.client.containers.list(all=True, filters={"label": LABEL,
                                                                 "status": ["created", "exited", "dead"]})
        now = datetime.now(UTC)
        stale = [c for c in stopped if (now - _stopped_at(c)).total_seconds() > stale_s]
        removed = {c.id: c for c in mine + stale}
        for container in removed.values():
            _remove(container)
        if removed:
            log.warning("removed %d leftover sandbox containers", len(removed))
        return len(removed)

    def start_warm(self, job: Job) -> _Container:
        return self.start(job, warm=True)

    def start(self, job: Job, *, warm: bool = False) -> _Container:
        """A started container of the job's kind, with the job's prelude written to its stdin. A warm one
        (started ahead) gets the lowest CPU weight until its job comes, so that it never slows a job being
        timed on the same machine."""
        import docker
        from docker.utils.socket import frames_iter

        limits = job.limits
        memory = f"{limits.memory_mb}m"
        device_requests = []
        if job.gpus:
            ids = None if job.gpus == "all" else job.gpus.split(",")
            device_requests = [docker.types.DeviceRequest(count=-1 if ids is None else None, device_ids=ids,
                                                          capabilities=[["gpu"]])]
        try:
            container = self.client.containers.create(
                self.image, ["/usr/bin/tini", "--", *(part.replace("{python}", PYTHON) for part in job.argv)],
                name=f"quantprep-{job.name}-{secrets.token_hex(4)}",  # unique across deployments on one engine
                labels={LABEL: job.name, OWNER_LABEL: owner(), RUN_LABEL: run_id()}, user="0:0", working_dir="/tmp",
                cap_drop=["ALL"], cap_add=["SETUID", "SETGID", "KILL"], security_opt=["no-new-privileges"],
                network_mode="none", read_only=True,
                tmpfs={"/tmp": f"size={limits.scratch_mb}m,mode=1777,nosuid,nodev"},
                shm_size="16m",  # tmpfs and shm count against the memory limit: keep both small
                pids_limit=limits.pids, mem_limit=memory, memswap_limit=memory, nano_cpus=int(limits.cpus * 1e9),
                ulimits=[docker.types.Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                         docker.types.Ulimit(name="core", soft=0, hard=0)],
                environment={"OMP_NUM_THREADS": str(max(int(limits.cpus), 1)), "HOME": "/tmp",
                             "QUANTPREP_SANDBOX_UIDS": CHILD_UIDS},
                log_config={"type": "none"},  # the default json-file driver stored a 322 MB flood on the host
                device_requests=device_requests, stdin_open=True, tty=False,
                cpu_shares=WARM_CPU_SHARES if warm else JOB_CPU_SHARES, cpuset_cpus=worker_cpus(),
            )
        except (docker.errors.ImageNotFound, docker.errors.APIError, docker.errors.DockerException) as exc:
            raise SandboxUnavailable(f"docker cannot start the sandbox ({self.image}): {exc}") from exc
        try:
            sock = self.client.api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stderr": 1,
                                                                       "stream": 1})
            collected = _Collector(frames_iter(sock, tty=False), limits.stdout_bytes, limits.stderr_bytes)
            collected.start()
            container.start()
            if job.prelude:
                sock._sock.sendall(job.prelude)
        except BaseException:
            _remove(container)
            raise
        return _Container(container, sock, collected, warm)

    def finish(self, sandbox: _Container, job: Job, *, on_stderr_line=None) -> RunResult:
        """Give the started container its job, wait for it (``wall_s`` from now), and remove it."""
        container, sock, collected = sandbox.container, sandbox.sock, sandbox.collected
        try:
            if sandbox.warm:
                container.update(cpu_shares=JOB_CPU_SHARES)  # its job: the same weight as any job's
            collected.on_stderr_line = on_stderr_line
            started = time.monotonic()
            stdin_feed(job.stdin, sock._sock.sendall, lambda: sock._sock.shutdown(socket.SHUT_WR))
            timed_out = False
            try:
                container.wait(timeout=job.limits.wall_s)
            except Exception:  # noqa: BLE001 - requests' ReadTimeout or ConnectionError: past the deadline
                timed_out = True
                container.kill()
            wall = time.monotonic() - started
            collected.join(timeout=10)
            state = self.client.api.inspect_container(container.id)["State"]
            return RunResult(exit_code=state.get("ExitCode"), stdout=bytes(collected.stdout),
                             stderr=bytes(collected.stderr), stdout_truncated=collected.truncated,
                             timed_out=timed_out, oom_killed=bool(state.get("OOMKilled")), wall_s=wall,
                             backend=self.name)
        finally:
            _remove(container)


class _Container:
    """A started container waiting for its one job (its prelude written)."""

    def __init__(self, container, sock, collected, warm: bool):
        self.container, self.sock, self.collected, self.warm = container, sock, collected, warm

    def alive(self) -> bool:
        try:
            self.container.reload()
            return self.container.status == "running"
        except Exception:  # noqa: BLE001 - gone from the engine
            return False

    def discard(self) -> None:
        _remove(self.container)


def _stopped_at(container) -> datetime:
    """When a stopped container stopped, or was made if it never started (Docker's "0001-01-01" then)."""
    finished = container.attrs["State"].get("FinishedAt", "")
    stamp = finished if finished and not finished.startswith("0001") else container.attrs["Created"]
    return datetime.fromisoformat(stamp)  # Docker's nanoseconds, read to the microsecond; always UTC ("Z")


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:  # noqa: BLE001 - the sweeper at the next worker start removes it
        log.exception("could not remove container %s", container.id)


class _Collector(threading.Thread):
    def __init__(self, frames, stdout_cap: int, stderr_cap: int):
        super().__init__(daemon=True)
        self.frames, self.on_stderr_line = frames, None  # the job's, set when the container gets it
        self.stdout, self.stderr = bytearray(), bytearray()
        self.caps = (stdout_cap, stderr_cap)
        self.truncated = False
        self._partial = b""

    def run(self) -> None:
        try:
            for stream, chunk in self.frames:
                if stream == 1:
                    room = self.caps[0] - len(self.stdout)
                    self.truncated |= len(chunk) > room
                    self.stdout += chunk[:max(room, 0)]
                elif stream == 2:
                    self._take_stderr(chunk)
        except Exception:  # noqa: BLE001 - the stream ends when the container is removed
            pass

    def _take_stderr(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()[-65536:]
        for line in lines:
            if line.startswith(b"@@progress ") and self.on_stderr_line:
                self.on_stderr_line(line.decode("utf-8", "replace"))
            elif len(self.stderr) < self.caps[1]:
                self.stderr += line[: self.caps[1] - len(self.stderr)] + b"\n"
