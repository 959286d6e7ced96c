# Transactions, connectors, device model: what the station is. Knows OCPP's data, not its transport.
