"""The local backend's zygote: a process that has imported torch and forks each harness process the backend
starts, where the backend used to exec a fresh ``python -I -c BOOTSTRAP`` that imported torch again (about
1.3 s of CPU a job; the harness forks its children from itself, torch included).

The zygote holds nothing of any job: it reads only requests (the code to run, a scratch directory, an
environment, rlimits, three pipe ends) and forks. The forked process makes itself what the exec'd one was
(a new session, the job's rlimits and network namespace, descriptors 0-2 its pipes and no other, the
job's environment and directory, a fresh interpreter's signal handling) and runs the code. The zygote reaps
it and reports its exit status. One zygote per worker process, started at its first sandbox. The local
backend is not isolation (sandbox/local.py), and this adds nothing a job can reach.

This file is also the zygote's program: ``python -I -c <this file> FD`` runs ``serve`` at the bottom, with
only the standard library and torch imported.
"""

from __future__ import annotations

import builtins
import ctypes
import io
import json
import os
import queue
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback

REQUEST_CAP = 1 << 20
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000


def unshare_network() -> None:
    """A fresh network namespace has only a down loopback (a user namespace too, where we are not root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        os.write(2, b"@@sandbox network namespace unavailable: the local sandbox has network access\n")


# ------------------------------------------------------------------------------------------ the zygote


def serve(sock_fd: int) -> None:
    """Fork a process for each request; report each one's exit. Ends when the worker's end closes."""
    import torch  # noqa: F401 - what every process forked from here would otherwise import for itself

    sock = socket.socket(fileno=sock_fd)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that SIGCHLD writes to the wakeup pipe
    while True:
        ready, _, _ = select.select([sock, wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            sock.send(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())
        if sock in ready:
            message, fds, _, _ = socket.recv_fds(sock, REQUEST_CAP, 3)
            if not message:
                os._exit(0)  # the worker process is gone; what it started ends when its stdin closes
            pid = os.fork()
            if pid == 0:
                _become(json.loads(message), fds)  # never returns
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"started": pid}).encode())


def _become(request: dict, fds: list[int]) -> None:
    """In a just-forked process: what ``python -I -c CODE`` started by subprocess with the job's limits was,
    then CODE; its exit status is CODE's, as the interpreter's own would be."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd, target in zip(fds, (0, 1, 2), strict=True):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the zygote's socket and pipe, and the pipe ends' copies
        for which, soft, hard in request["rlimits"]:
            resource.setrlimit(which, (soft, hard))
        unshare_network()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)))
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)))
        sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), line_buffering=True,
                                      errors="backslashreplace")
        sys.argv = ["-c"]
        exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__", "__builtins__": builtins})  # noqa: S102
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - as the interpreter does: the traceback on stderr, status 1
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a closed or broken stream: nothing more to say
                pass
        os._exit(code)


# ------------------------------------------------------------------------------------------ the worker's side


class ZygoteGone(RuntimeError):
    pass


class Zygote:
    """The worker's handle on its zygote: ``spawn`` asks for a process, a thread hears of each one's exit."""

    def __init__(self, env: dict):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with open(__file__) as source:
            program = source.read() + "\nserve(int(sys.argv[1]))\n"
        self.proc = subprocess.Popen([sys.executable, "-I", "-c", program, str(theirs.fileno())],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     pass_fds=(theirs.fileno(),), env=env, start_new_session=True)
        theirs.close()
        self.lock = threading.Lock()  # one request at a time: the replies come back in order
        self.started: queue.Queue = queue.Queue()
        self.exits: dict[int, int | None] = {}
        self.exited = threading.Condition()
        self.alive = True
        threading.Thread(target=self._listen, name="zygote", daemon=True).start()

    def _listen(self) -> None:
        try:
            while message := self.sock.recv(4096):
                reply = json.loads(message)
                if "started" in reply:
                    self.started.put(reply["started"])
                else:
                    with self.exited:
                        self.exits[reply["exited"]] = reply["code"]
                        self.exited.notify_all()
        except OSError:
            pass
        with self.exited:  # gone: nothing it started will be reported any more
            self.alive = False
            self.exited.notify_all()
        self.started.put(None)
        self.proc.wait()

    def spawn(self, code: str, *, cwd: str, env: dict, rlimits: list, fds: tuple[int, int, int]) -> ForkedProcess:
        request = json.dumps({"code": code, "cwd": cwd, "env": env, "rlimits": rlimits}).encode()
        with self.lock:
            if not self.alive:
                raise ZygoteGone("the zygote has exited")
            try:
                socket.send_fds(self.sock, [request], list(fds))
            except OSError as exc:
                raise ZygoteGone(f"the zygote does not answer: {exc}") from exc
            pid = self.started.get()
        if pid is None:
            raise ZygoteGone("the zygote exited")
        return ForkedProcess(self, pid)

    def returncode(self, pid: int, timeout: float | None) -> int | None:
        """The process's exit status once the zygote reports it (-9 when the zygote went away first)."""
        with self.exited:
            self.exited.wait_for(lambda: pid in self.exits or not self.alive, timeout=timeout)
            if pid in self.exits:
                return self.exits[pid]
            return None if self.alive else -signal.SIGKILL

    def close(self) -> None:
        self.sock.close()


class ForkedProcess:
    """What the local backend uses of ``subprocess.Popen``, for a process the zygote forked."""

    def __init__(self, zygote: Zygote, pid: int):
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        return self.wait(timeout=0) if self.returncode is None else self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.returncode(self.pid, timeout)
            if self.returncode is None and timeout is not None and timeout > 0:
                raise subprocess.TimeoutExpired(["zygote", str(self.pid)], timeout)
        return self.returncode


_zygote: tuple[int, Zygote] | None = None
_zygote_lock = threading.Lock()


def zygote(env: dict) -> Zygote:
    """This process's zygote, started at the first call (and again should it have exited). A process forked
    from this one (a Celery pool process) starts its own: the socket it inherited is its parent's."""
    global _zygote
    with _zygote_lock:
        if _zygote is None or _zygote[0] != os.getpid() or not _zygote[1].alive or _zygote[1].proc.poll() is not None:
            _zygote = (os.getpid(), Zygote(env))
        return _zygote[1]
