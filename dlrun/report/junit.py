"""`dlrun smoke --junit FILE`: the results as JUnit XML, the format GitHub Actions reporters, GitLab
(`artifacts:reports:junit`) and Jenkins (`junit`) read.

    <testsuites name="dlrun smoke" tests= failures= errors= skipped= time=>
      <testsuite name="dlrun smoke" tests= failures= errors= skipped= time= timestamp= hostname=>
        <testcase classname="dlrun.smoke.train" name="configs/iris.yaml" file="configs/iris.yaml" time="2.104"/>
        <testcase …><failure message="configs/x.yaml: training failed: …" type="failed">traceback</failure></testcase>
        <testcase …><error message="configs/y.yaml:7:5  model.layers[0]…" type="invalid">every problem</error></testcase>
        <testcase …><skipped message="offline: keras:mnist needs a download (…)"/></testcase>

A failed run is a <failure>; an invalid spec, which could not be run at all, an <error>; both count
as failing in every reader. Written with the standard library's ElementTree.
"""

from __future__ import annotations

import re
import socket
import time
import xml.etree.ElementTree as ET

from dlrun.report.smoke_view import FAILED, INVALID, SKIPPED, SmokeResult, counts

SUITE = "dlrun smoke"
_NOT_XML = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """Text XML 1.0 can hold: terminal colour codes and control characters removed."""
    return _NOT_XML.sub("", text)


def _case(result: SmokeResult) -> ET.Element:
    case = ET.Element("testcase", classname=f"dlrun.smoke.{result.kind}", name=result.spec,
                      file=result.file or result.spec, time=f"{result.seconds:.3f}")
    if result.line is not None:
        case.set("line", str(result.line))
    tag = {FAILED: "failure", INVALID: "error", SKIPPED: "skipped"}.get(result.status)
    if tag is not None:
        child = ET.SubElement(case, tag, message=_clean(result.message))
        if tag != "skipped":
            child.set("type", result.status)
        if tag != "skipped" or result.details not in ("", result.message):
            child.text = _clean(result.details or result.message)
    return case


def junit_xml(results: list[SmokeResult], seconds: float) -> str:
    """The JUnit XML document (UTF-8 text) for `results`, one <testcase> per spec."""
    tally = counts(results)
    totals = {"tests": str(len(results)), "failures": str(tally[FAILED]), "errors": str(tally[INVALID]),
              "skipped": str(tally[SKIPPED]), "time": f"{seconds:.3f}"}
    root = ET.Element("testsuites", name=SUITE, **totals)
    suite = ET.SubElement(root, "testsuite", name=SUITE, **totals,
                          timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"), hostname=socket.gethostname())
    suite.extend(_case(result) for result in results)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
