"""The default thread count honours the container's CPU quota (cgroup v2 cpu.max, v1 CFS quota)
as well as the affinity mask: read from a fake /sys/fs/cgroup and /proc/self/cgroup."""

import os

import pytest

from minie5.engine import threads


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_cpu_max_of_the_group_or_any_above_it(tmp_path):
    root, cgroup = tmp_path / "cgroup", tmp_path / "self_cgroup"
    write(cgroup, "0::/kubepods/pod1/container\n")
    write(root / "cpu.max", "max 100000\n")
    write(root / "kubepods/pod1/container/cpu.max", "max 100000\n")
    assert threads.cgroup_cpu_quota(root, cgroup) is None
    write(root / "kubepods/pod1/cpu.max", "150000 100000\n")  # the pod's limit: 1.5 cores
    assert threads.cgroup_cpu_quota(root, cgroup) == 1.5
    write(root / "kubepods/pod1/container/cpu.max", "50000 100000\n")  # the smallest wins
    assert threads.cgroup_cpu_quota(root, cgroup) == 0.5


def test_cgroup_v1_cfs_quota(tmp_path):
    root, cgroup = tmp_path / "cgroup", tmp_path / "self_cgroup"
    write(cgroup, "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n")
    write(root / "cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(root / "cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert threads.cgroup_cpu_quota(root, cgroup) is None
    write(root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "100000\n")
    write(root / "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert threads.cgroup_cpu_quota(root, cgroup) == 1.0


def test_unreadable_or_odd_files_mean_no_quota(tmp_path):
    assert threads.cgroup_cpu_quota(tmp_path, tmp_path / "missing") is None
    write(tmp_path / "self_cgroup", "0::/\n")
    write(tmp_path / "cpu.max", "garbage\n")
    assert threads.cgroup_cpu_quota(tmp_path, tmp_path / "self_cgroup") is None


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_the_default_is_the_quota_rounded_up_within_the_affinity(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: 0.3)
    assert threads.available_cores() == 1
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: 1.2)
    assert threads.available_cores() == min(cores, 2)
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: 64.0)
    assert threads.available_cores() == cores
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.setattr(threads, "cgroup_cpu_quota", lambda: 0.5)
    assert threads.resolve_threads(None) == 1


def test_busy_cores_reads_the_run_queue(tmp_path):
    write(tmp_path / "loadavg", "13.47 13.05 11.65 15/202 27088\n")
    assert threads.busy_cores(tmp_path / "loadavg") == 14  # the caller is one of the 15
    write(tmp_path / "loadavg", "odd\n")
    assert threads.busy_cores(tmp_path / "loadavg") is None


def test_the_default_gives_way_to_busy_cores_and_a_chosen_count_does_not(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    default = threads.ThreadLimits(threads.DefaultThreads(4))
    chosen = threads.ThreadLimits(4)
    for busy, expected in ((0, 4), (1, 3), (3, 1), (9, 1)):
        monkeypatch.setattr(threads, "busy_cores", lambda busy=busy: busy)
        assert default.for_pass() == expected and chosen.for_pass() == 4
    monkeypatch.setattr(threads, "busy_cores", lambda: None)  # no /proc/loadavg: every thread
    assert default.for_pass() == 4
    assert threads.ThreadLimits(threads.resolve_threads(None)).adaptive
    assert not threads.ThreadLimits(threads.resolve_threads(1)).adaptive
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    assert not threads.ThreadLimits(threads.resolve_threads(None)).adaptive
