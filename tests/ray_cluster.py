"""A real multi-node Ray cluster on this machine, for the tests of the Ray executor.

Each node is its own ``ray start`` (the head with ``--head``, the others with
``--address``): separate raylets, each with its own CPU resources and its own
``--temp-dir``, so one node can be killed alone (its raylet and workers).

Ray's servers bind every interface. So that nothing listens beyond loopback, the
whole cluster lives in a network namespace of its own (``unshare --net``) where the
only interface is ``lo``, the nodes use 127.0.0.2, and the drivers enter the same
namespace (``nsenter``): the cluster cannot be reached from outside, nor reach out.
``HOME`` is a fresh folder (no token of another cluster in ``~/.ray``). Teardown kills
the processes in that namespace, which are this cluster's only: never another
engineer's Ray (no ``ray stop``, which kills every Ray process of the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODE_IP = "127.0.0.2"
RAY = str(Path(sys.executable).with_name("ray"))

# Fast failure detection (a lost node is noticed in seconds, not a minute), and every
# object through the shared-memory store, spilled as soon as it is there: the test of
# raw text reads what reaches the object store and the disk.
DEPLOYED_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
# The tests also force every object through the object store and spill it to disk, so
# that the privacy test can read what Ray wrote; the throughput benchmark does not.
SYSTEM_ENV = {
    **DEPLOYED_ENV,
    "RAY_max_direct_call_object_size": "0",
    "RAY_object_spilling_threshold": "0.01",
    "RAY_min_spilling_size": "0",
}


@dataclass
class Node:
    name: str
    temp_dir: Path
    cpus: int

    def raylet_pids(self) -> list[int]:
        """This node's raylet (found by its own temp dir on its command line)."""
        out = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                cmdline
                and cmdline[0].endswith(b"/raylet")
                and any(str(self.temp_dir).encode() in arg for arg in cmdline)
            ):
                out.append(int(proc.name))
        return out


@dataclass
class RayCluster:
    root: Path
    port: int = 0
    holder: subprocess.Popen[bytes] | None = None
    nodes: list[Node] = field(default_factory=list)
    system_env: Mapping[str, str] = field(default_factory=lambda: SYSTEM_ENV)

    @property
    def address(self) -> str:
        return f"{NODE_IP}:{self.port}"

    @property
    def spill_dir(self) -> Path:
        return self.root / "spill"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "CALLQA_"))}
        env.update(self.system_env)
        env["HOME"] = str(self.root / "home")
        # The workers import this worktree's code, and the tests' fakes.
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests")])
        env.update(extra or {})
        return env

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` run inside the cluster's network namespace."""
        assert self.holder is not None
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", *args]

    def run(
        self, args: Sequence[str], *, timeout: float = 240, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(args),
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(
        self, args: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(args),
            env=self.env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # --- life cycle ------------------------------------------------------------------

    def start(self, cpus: Sequence[int] = (1, 1), object_store_mb: int = 80) -> RayCluster:
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        self.spill_dir.mkdir(exist_ok=True)
        self.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        deadline = time.monotonic() + 10
        while _netns(self.holder.pid) == _netns(os.getpid()):
            assert time.monotonic() < deadline, "unshare --net did not start"
            time.sleep(0.05)
        subprocess.run(self.command(["ip", "link", "set", "lo", "up"]), check=True)
        self.port = 46379  # its own namespace: no other cluster can hold it
        self._ray_start(
            "head",
            cpus[0],
            ["--head", f"--port={self.port}", "--include-dashboard=false"],
            object_store_mb,
        )
        for cpu in cpus[1:]:
            self.add_node(cpu, object_store_mb)
        return self

    def add_node(self, cpus: int = 1, object_store_mb: int = 80) -> Node:
        return self._ray_start(
            f"node{len(self.nodes)}", cpus, [f"--address={self.address}"], object_store_mb
        )

    def _ray_start(self, name: str, cpus: int, args: list[str], store_mb: int) -> Node:
        node = Node(name, self.root / name, cpus)
        done = self.run(
            [
                RAY,
                "start",
                *args,
                f"--node-ip-address={NODE_IP}",
                f"--num-cpus={cpus}",
                f"--temp-dir={node.temp_dir}",
                f"--object-store-memory={store_mb * 1024 * 1024}",
                f"--object-spilling-directory={self.spill_dir}",
                "--disable-usage-stats",
            ],
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        self.nodes.append(node)
        return node

    def kill_node(self, node: Node) -> None:
        """Kill one node: its raylet (its workers follow it). Not the head."""
        pids = node.raylet_pids()
        assert pids, f"{node.name}: no raylet found"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.nodes.remove(node)

    def alive_nodes(self) -> int:
        script = (
            f"import ray; ray.init(address={self.address!r}, log_to_driver=False);"
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        done = self.run([sys.executable, "-c", script], timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        return int(done.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        if self.holder is None:
            return
        namespace = _netns(self.holder.pid)
        for _ in range(3):  # ray processes may still be forking on the first pass
            for proc in Path("/proc").iterdir():
                pid = int(proc.name) if proc.name.isdigit() else self.holder.pid
                if pid != self.holder.pid and _netns(pid) == namespace:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
        self.holder.kill()
        self.holder.wait()
        self.holder = None
        shutil.rmtree(self.root, ignore_errors=True)


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None
