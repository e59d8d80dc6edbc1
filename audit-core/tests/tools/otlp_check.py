"""Parses OTLP/JSON lines from stdin with OpenTelemetry's own protobuf definitions
(PyPI `opentelemetry-proto`): a field the schema does not have, or a value of the wrong type,
fails the parse. Prints how many lines parsed.

    python3 otlp_check.py record   < log_records.jsonl     # opentelemetry.proto.logs.v1.LogRecord
    python3 otlp_check.py request  < bodies.jsonl          # ExportLogsServiceRequest (/v1/logs)
"""
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

message = {"record": LogRecord, "request": ExportLogsServiceRequest}[sys.argv[1]]
parsed = 0
for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    try:
        json_format.Parse(line, message())
    except json_format.ParseError as e:
        sys.exit(f"line {number}: {e}")
    parsed += 1
print(parsed)
