"""Run krkn's own alert-profile and resiliency code (tests/data/krkn_src, with krkn-lib) on given
windows and print its verdicts as JSON. Run with the krkn-lib venv's python:

    python krkn_verdicts.py REQUEST.json

REQUEST: {"url", "alert_profile", "slo_file", "start", "end", "scenarios": [{"name", "start", "end"}]}
("alert_profile" may be null: no alert verdict). The answer's "krkn_line" is what krkn prints on
stdout in resiliency_run_mode `detailed` (finalize_and_save), captured.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "data" / "krkn_src"))
logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # process_alert tees the root handler

import krkn_lib.models.telemetry as telemetry  # noqa: E402

if not hasattr(telemetry, "FailedAlert"):
    # krkn's client.py collects fired alerts in this record (krkn-lib 6); krkn-lib 7 has none.
    class FailedAlert(dict):
        pass

    telemetry.FailedAlert = FailedAlert

from krkn_lib.prometheus.krkn_prometheus import KrknPrometheus  # noqa: E402

from krkn.prometheus.client import alerts  # noqa: E402
from krkn.resiliency.resiliency import Resiliency  # noqa: E402


def main() -> None:
    req = json.loads(Path(sys.argv[1]).read_text())
    prom = KrknPrometheus(req["url"])
    fired = alerts(prom, None, "run", req["start"], req["end"], req["alert_profile"], "idx") \
        if req.get("alert_profile") else []
    res = Resiliency(req["slo_file"])
    for s in req["scenarios"]:
        res.add_scenario_report(scenario_name=s["name"], prom_cli=prom,
                                start_time=datetime.datetime.fromtimestamp(int(s["start"])),
                                end_time=datetime.datetime.fromtimestamp(int(s["end"])))
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        res.finalize_and_save(prom_cli=prom, total_start_time=datetime.datetime.fromtimestamp(req["start"]),
                              total_end_time=datetime.datetime.fromtimestamp(req["end"]), run_mode="detailed")
    print(json.dumps({
        "fired": sorted(dict(a)["name"] for a in fired),
        "scenarios": [{"name": r["name"], "score": r["score"], "slo_results": r["slo_results"]}
                      for r in res.scenario_reports],
        "summary": res.get_summary(),
        "krkn_line": next((line for line in stdout.getvalue().splitlines()
                           if line.startswith("KRKN_RESILIENCY_REPORT_JSON:")), None),
    }))


if __name__ == "__main__":
    main()
