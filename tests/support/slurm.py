"""A real single-node Slurm on loopback for the cluster tests: munged, slurmctld and slurmd from Debian's
slurm-wlm and munge packages, with proctrack/linuxproc and no cgroups, in a temporary folder.

``LocalSlurm.start()`` returns None when the cluster is up, or the exact reason it cannot be (the test
then skips with it); ``stop()`` cancels every job and ends the daemons it started, by their pids.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalSlurm:
    def __init__(self, root: Path, cpus: int = 2) -> None:
        self.root = root
        self.cpus = cpus
        self.host = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def _which(self) -> str | None:
        missing = [d for d in DAEMONS if shutil.which(d, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
                   is None]
        if missing:
            return f"Slurm/munge not installed ({', '.join(missing)} missing; scripts/setup.sh --test installs " \
                   "slurm-wlm and munge)"
        return None

    def _write_conf(self) -> None:
        r = self.root
        (r / "state").mkdir()
        (r / "spool").mkdir()
        self.conf.write_text("\n".join([
            "ClusterName=abatest",
            f"SlurmctldHost={self.host}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root" if os.geteuid() == 0 else f"SlurmUser={os.environ.get('USER', 'nobody')}",
            "AuthType=auth/munge",
            f"AuthInfo=socket={r / 'munge' / 'sock'}",
            "CredType=cred/munge",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'slurmd.log'}",
            "ReturnToService=2",
            "MpiDefault=none",
            "KillWait=30",
            "MinJobAge=3600",
            "SchedulerParameters=sched_interval=1",
            f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=4000 State=UNKNOWN",
            f"PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP",
        ]) + "\n")

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 (kept open for the daemon's life)
        binary = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or name
        self.procs.append(subprocess.Popen([binary, *args], stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, env=self.env, start_new_session=True))

    def _tail(self, name: str) -> str:
        for fname in (f"{name}.log", f"{name}.out"):
            path = self.root / fname
            if path.exists():
                lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
                if lines:
                    return lines[-1][:300]
        return "(no log)"

    def start(self, timeout: float = 40.0) -> str | None:
        reason = self._which()
        if reason:
            return reason
        munge = self.root / "munge"
        munge.mkdir(mode=0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn("munged", ["-F", f"--key-file={key}", f"--socket={munge / 'sock'}",
                               f"--pid-file={munge / 'pid'}", f"--log-file={munge / 'log'}",
                               f"--seed-file={munge / 'seed'}", "--force"])
        self._write_conf()
        self._spawn("slurmctld", ["-D", "-i"])
        self._spawn("slurmd", ["-D", "-N", self.host])
        deadline = time.time() + timeout
        while time.time() < deadline:
            for proc, name in zip(self.procs, ("munged", "slurmctld", "slurmd"), strict=True):
                if proc.poll() is not None:
                    self.stop()
                    return f"{name} exited with code {proc.returncode} at start: {self._tail(name)}"
            out = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True,
                                 env=self.env, check=False)
            if out.stdout.strip() == "idle":
                return None
            time.sleep(0.5)
        why = f"slurmctld: {self._tail('slurmctld')}; slurmd: {self._tail('slurmd')}"
        self.stop()
        return f"the loopback Slurm did not come up in {timeout:g} s ({why})"

    def stop(self) -> None:
        if len(self.procs) >= 3 and self.procs[1].poll() is None:
            subprocess.run(["scancel", "--full", "--user", str(os.getuid())], env=self.env, check=False,
                           capture_output=True)
            deadline = time.time() + 40
            while time.time() < deadline:
                out = subprocess.run(["squeue", "--noheader", "--format=%i"], capture_output=True, text=True,
                                     env=self.env, check=False)
                if out.returncode != 0 or not out.stdout.strip():
                    break
                time.sleep(0.5)
        for proc in reversed(self.procs):  # slurmd, slurmctld, then munged
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
