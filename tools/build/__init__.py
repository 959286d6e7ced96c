"""Build and code generation: the .mpy build and the Unix port that runs it (mpy.py), the validation tables
generated from the OCPP schemas (gen_validators.py), the type check of the device code (typecheck.py)."""
