"""`make demo` (demo.py): the development CSMS and one simulated station, a readable trace and a summary."""
