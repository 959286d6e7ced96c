# OCPP-J (OCPP 2.0.1 Part 4): WebSocket client, frames, CALL/CALLRESULT/CALLERROR, schema validation.
