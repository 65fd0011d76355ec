"""storage_throttle_scenarios on plain data: krkn's shipped files read as krkn reads them, the
limits and the lines written for them, the device's line of a cgroup file as found."""

from __future__ import annotations

from pathlib import Path

import pytest

from krkn_tui.errors import UserError
from krkn_tui.scenarios import parse_scenario_file
from krkn_tui.scenarios.storage_throttle import device_line, helper_pod, parse_storage_throttle, value_line
from krkn_tui.scenarios.trap_undo import HOLD_GRACE, hold_command

KRKN = Path(__file__).parent / "data" / "krkn_repo" / "scenarios"
TYPE = "storage_throttle_scenarios"


def test_krkns_kube_file_reads_as_krkn_reads_it():
    (spec,) = parse_scenario_file(TYPE, KRKN / "kube" / "storage_throttle.yaml")
    assert (spec.pvc_name, spec.pod_name, spec.namespace, spec.mount_path) == (None, "my-app-pod", "default", None)
    assert (spec.read_bps, spec.write_bps, spec.duration) == (1024 ** 2, 512 * 1024, 60)  # 1Mi, 512Ki, 1m
    assert spec.limits() == {"read_bps": 1048576, "write_bps": 524288}  # bandwidth: the iops stay unset
    assert spec.image == "quay.io/krkn-chaos/krkn:tools"


def test_krkns_openshift_file_names_its_placeholder_in_one_line():
    path = KRKN / "openshift" / "storage_throttle.yaml"
    with pytest.raises(UserError) as info:
        parse_scenario_file(TYPE, path)
    assert str(info.value) == f"{path}: storage_throttle_scenario.namespace: not a valid namespace name: '<namespace>'"


@pytest.mark.parametrize(("fields", "limits"), [
    ({"throttle_type": "iops", "read_iops": "7", "write_iops": 3}, {"read_iops": 7, "write_iops": 3}),
    ({"throttle_type": "both", "read_bps": "1.5K", "write_bps": "2M"},
     {"read_iops": 100, "write_iops": 50, "read_bps": 1500, "write_bps": 2000000}),
    ({"write_bps": 4096, "duration": "2m"}, {"read_bps": 1048576, "write_bps": 4096}),
])
def test_limits_by_throttle_type_with_krkns_units(fields, limits):
    (spec,) = parse_storage_throttle({"storage_throttle_scenario": {"namespace": "ns", "pvc_name": "data", **fields}},
                                     "f.yaml")
    assert spec.limits() == limits
    assert spec.duration == (120 if fields.get("duration") == "2m" else 60)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"read_iops": True}, "read_iops", "expected an integer"),
    ({"read_iops": -1}, "read_iops", "must be a positive value"),
    ({"duration": "0.5"}, "duration", "must be a positive value"),
    ({"duration": "5d"}, "duration", "optionally followed by s, m or h"),
    ({"image": "bad image"}, "image", "not an image reference"),
    ({"pvc_name": "Data"}, "pvc_name", "not a valid object name"),
    ({"ionice": 3}, "ionice", "unknown field"),
])
def test_bad_values_are_one_line_naming_the_field(fields, field, message):
    with pytest.raises(UserError) as info:
        parse_storage_throttle({"storage_throttle_scenario": {"namespace": "ns", "pvc_name": "data", **fields}},
                               "f.yaml")
    assert str(info.value).startswith(f"f.yaml: storage_throttle_scenario.{field}: ") and message in str(info.value)


def test_lines_written_and_found():
    assert value_line("v1", "7:3", "write_bps", 524288) == "7:3 524288"
    assert value_line("v2", "7:3", "write_bps", 524288) == "7:3 wbps=524288"
    text = "7:30 5\n7:3 1048576\n8:0 100\n"
    assert device_line(text, "7:3") == "7:3 1048576"  # not 7:30's
    assert device_line(text, "7:4") == ""


def test_the_helper_pod_is_krkn_libs_io_throttle_pod():
    (spec,) = parse_storage_throttle({"storage_throttle_scenario": {"namespace": "ns", "pvc_name": "data"}}, "f")
    pod = helper_pod("io-throttle-0123456789", spec, "node-1", "run")
    c = pod["spec"]["containers"][0]
    assert pod["spec"]["nodeName"] == "node-1" and pod["spec"]["restartPolicy"] == "Never"
    assert (c["name"], c["image"], c["securityContext"]) == ("io-throttle", spec.image, {"privileged": True})
    assert c["command"] == hold_command()  # the dead man's switch: its TERM trap writes the limits back
    assert pod["spec"]["terminationGracePeriodSeconds"] == HOLD_GRACE
    assert pod["spec"]["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    assert c["volumeMounts"] == [{"name": "host-root", "mountPath": "/host"}]


def test_the_undo_renders_into_a_version_file_that_passes_the_text_rule():
    from krkn_tui.rollback import RollbackContent
    from krkn_tui.rollback.source_text import checked_source
    from krkn_tui.rollback.meta import VersionMeta
    from krkn_tui.rollback.writer import render_version_file
    from krkn_tui.scenarios.storage_throttle import restore_io_limits

    content = RollbackContent("io-throttle-0123456789", "ns", {
        "pod": "io-throttle-0123456789", "container": "io-throttle", "node": "n", "target": "p/main",
        "maj_min": "7:3", "cgroup_version": "v1", "cgroup_path": "/kubepods/besteffort/pod1/abc",
        "found": {"blkio.throttle.write_bps_device": "", "blkio.throttle.read_bps_device": "7:3 33554432"}})
    text = render_version_file(restore_io_limits, content, VersionMeta(format=1, callable="restore_io_limits"))
    assert checked_source(text.encode()) == text and "def restore_io_limits(content, api_client):" in text


@pytest.mark.parametrize(("data", "message"), [
    ({"cgroup_path": "/kubepods/../../sys"}, "refusing a recorded cgroup or device"),
    ({"maj_min": "7:3; reboot"}, "refusing a recorded cgroup or device"),
    ({"found": {"blkio.throttle.write_bps_device": "8:0 1"}}, "not for device 7:3"),
    ({"found": {"../../../etc/passwd": ""}}, "not for device 7:3"),
])
def test_the_undo_refuses_recorded_data_that_is_not_its_own_before_any_call(data, message):
    from krkn_tui.rollback import RollbackContent
    from krkn_tui.scenarios.storage_throttle import restore_io_limits

    recorded = {"pod": "p", "container": "io-throttle", "node": "n", "maj_min": "7:3", "cgroup_version": "v1",
                "cgroup_path": "/kubepods/pod1/abc", "found": {"blkio.throttle.write_bps_device": ""}, **data}
    with pytest.raises(RuntimeError, match=message):
        restore_io_limits(RollbackContent("p", "ns", recorded), None)  # no client: it never gets that far
