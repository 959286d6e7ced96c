# The session with the CSMS: connection and back-off, registration and heartbeat, the outgoing queue.
