"""Robustness runs against the real station: WebSocket fuzzing (fuzz.py, `make fuzz`) and fault injection
(faults.py, `make faults`); short runs of both are tests (tests_host/test_fuzz_short.py, test_faults.py)."""
