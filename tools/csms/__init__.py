"""The CSMSs the station is run against (the demo, benchmarks, robustness runs and tests):

    dev.py    a development CSMS on the `ocpp` package: validates what the station sends, records the wire,
              sends any CALL (CSMS, CallError)
    audit.py  a raw RFC 6455 server written out by hand: audits every frame, injects handshake and frame
              faults (AuditServer, frame, schema_errors)
"""
