"""`python -m mlcore cluster status`: the Ray cluster that jobs run on (ML_STUDIO_RAY_ADDRESS).

python -m mlcore cluster status            # where new jobs go, the nodes and what runs on each
python -m mlcore cluster status --json     # the same as one JSON document
python -m mlcore cluster status --check    # run the shared-outputs probe again now
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from mlcore.core.settings import Settings


def add_cluster_parser(sub: Any) -> None:
    cluster = sub.add_parser("cluster", help="the Ray cluster jobs run on: nodes, GPUs, its jobs")
    actions = cluster.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="where new jobs go, the nodes (alive or dead) and the jobs on them")
    status.add_argument("--json", action="store_true", help="one JSON document on stdout")
    status.add_argument("--check", action="store_true", help="probe the nodes and the shared outputs again now")
    status.set_defaults(func=cmd_cluster_status)


def cmd_cluster_status(args: argparse.Namespace, settings: Settings) -> int:
    from mlcore.system.cluster import cluster_status

    report = cluster_status(settings, recheck=args.check)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_cluster(report)
    return 0 if report["ok"] else 1


def print_cluster(report: dict[str, Any]) -> None:
    if not report["configured"]:
        print(report["message"])
        return
    verdict = "jobs run on the cluster" if report["ok"] else "jobs run on this machine"
    print(f"Ray cluster {report['address']} (Ray {report.get('ray_version') or '?'}): {verdict}")
    print(f"  {report['message']}")
    if report["nodes"]:
        print("\nNodes")
        for node in report["nodes"]:
            role = "head" if node["is_head"] else "worker"
            state = "alive" if node["alive"] else "DEAD"
            jobs = ", ".join(node["jobs"]) or "idle"
            print(
                f"  {node['short_id']}  {node['hostname']:<16} {node['ip']:<15} {role:<6} {state:<5} "
                f"{node['cpus']:g} CPU  {node['gpus']} GPU  {jobs}"
            )
    if report["jobs"]:
        print("\nJobs")
        for job in report["jobs"]:
            where = job["node_name"] or (job["node"] or "")[:8] or ("studio queue" if job["state"] == "queued" else "")
            ray = job["ray_status"] or "-"
            print(f"  {job['id']}  {job['kind']:<10} {job['state']:<9} Ray: {ray:<9} {job['gpus']} GPU  {where}")
    if report.get("checked"):
        print(f"\nChecked {time.strftime('%H:%M:%S', time.localtime(report['checked']))}; --check probes again.")
