#!/usr/bin/python3
"""Kernel start to first executed cell, trivial cell round trip (median of 200), idle RSS."""
import json, statistics, sys, time
from jupyter_client.manager import KernelManager

name = sys.argv[1] if len(sys.argv) > 1 else "tfjs-estimator"
t0 = time.perf_counter()
km = KernelManager(kernel_name=name)
km.start_kernel()
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
kc.execute_interactive("1 + 1", timeout=60, output_hook=lambda m: None)
first = time.perf_counter() - t0
lat = []
for i in range(200):
    t = time.perf_counter()
    kc.execute_interactive("%d + 1" % i, timeout=60, output_hook=lambda m: None)
    lat.append((time.perf_counter() - t) * 1000)
time.sleep(2)
pid = km.provisioner.process.pid
rss = [int(l.split()[1]) / 1024 for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS:")][0]
print(json.dumps({"kernel": name, "start_to_first_cell_s": round(first, 2), "cell_round_trip_ms_median": round(statistics.median(lat), 1), "idle_rss_mb": round(rss)}))
km.shutdown_kernel(now=True)
