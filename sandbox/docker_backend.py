"""The ``docker`` backend: one throwaway container per job, started detached and waited on with a
deadline (a client-side timeout alone does not stop a container), always killed and removed by id.

The job directory is bind-mounted read-only at /job, so the worker and the engine share a host (as
Judge0 and PrairieLearn's external graders do). Results come back only through the container's
stdout stream, size-capped: the worker never reads a path the sandbox controls."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from sandbox.job import Job, RunResult

log = logging.getLogger("sandbox")
LABEL = "org.quantprep.sandbox.job"
PYTHON = "/opt/venv/bin/python"


class DockerBackend:
    name = "docker"

    def __init__(self, image: str):
        import docker

        self.image = image
        self.client = docker.from_env(timeout=30)

    def sweep(self) -> int:
        """Remove containers left by a worker that died (called at worker start)."""
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            container.remove(force=True)
            removed += 1
        if removed:
            log.warning("removed %d leftover sandbox containers", removed)
        return removed

    def run(self, job: Job, *, on_stderr_line=None) -> RunResult:
        import docker

        limits = job.limits
        root = Path(tempfile.mkdtemp(prefix=f"quantprep-{job.name}-"))
        os.chmod(root, 0o755)
        container = None
        try:
            for relative, data in job.files.items():
                path = root / relative
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                path.write_bytes(data)
                path.chmod(0o644)
            argv = [part.format(python=PYTHON, job="/job") for part in job.argv]
            memory = f"{limits.memory_mb}m"
            device_requests = []
            if job.gpus:
                ids = None if job.gpus == "all" else job.gpus.split(",")
                device_requests = [docker.types.DeviceRequest(count=-1 if ids is None else None, device_ids=ids,
                                                              capabilities=[["gpu"]])]
            container = self.client.containers.create(
                self.image, ["/usr/bin/tini", "--", *argv], name=f"quantprep-{job.name}",
                labels={LABEL: job.name}, user="65534:65534", working_dir="/tmp",
                network_mode="none", read_only=True,
                tmpfs={"/tmp": f"size={limits.scratch_mb}m,mode=1777,nosuid,nodev"},
                shm_size="16m",  # tmpfs and shm count against the memory limit: keep both small
                volumes={str(root): {"bind": "/job", "mode": "ro"}},
                cap_drop=["ALL"], security_opt=["no-new-privileges"], pids_limit=limits.pids,
                mem_limit=memory, memswap_limit=memory, nano_cpus=int(limits.cpus * 1e9),
                ulimits=[docker.types.Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                         docker.types.Ulimit(name="core", soft=0, hard=0)],
                environment={"OMP_NUM_THREADS": str(max(int(limits.cpus), 1)), "HOME": "/tmp"},
                log_config={"type": "none"},  # the default json-file driver stored a 322 MB flood on the host
                device_requests=device_requests, stdin_open=False, tty=False, detach=True,
            )
            stream = self.client.api.attach(container.id, stdout=True, stderr=True, stream=True, demux=True)
            collected = _Collector(stream, limits.stdout_bytes, limits.stderr_bytes, on_stderr_line)
            collected.start()
            started = time.monotonic()
            container.start()
            timed_out = False
            try:
                container.wait(timeout=limits.wall_s)
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
            if container is not None:
                try:
                    container.remove(force=True)
                except Exception:  # noqa: BLE001 - the sweeper at the next worker start removes it
                    log.exception("could not remove container %s", container.id)
            shutil.rmtree(root, ignore_errors=True)


class _Collector(threading.Thread):
    def __init__(self, stream, stdout_cap: int, stderr_cap: int, on_stderr_line):
        super().__init__(daemon=True)
        self.stream, self.on_stderr_line = stream, on_stderr_line
        self.stdout, self.stderr = bytearray(), bytearray()
        self.caps = (stdout_cap, stderr_cap)
        self.truncated = False
        self._partial = b""

    def run(self) -> None:
        try:
            for out, err in self.stream:
                if out:
                    room = self.caps[0] - len(self.stdout)
                    self.truncated |= len(out) > room
                    self.stdout += out[:max(room, 0)]
                if err:
                    self._take_stderr(err)
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
