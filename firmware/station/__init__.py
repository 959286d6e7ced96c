# The charging-station firmware, one package so that nothing shadows a standard module and the frozen
# namespace is ours. Layers, each looking only down:
#   trigger/    TriggerMessage (F06): one producer per requestedMessage, over the view in trigger/view.py
#   session/    connection, registration (B01-B03, heartbeat), the outbox and its retry policy
#   transport/  OCPP-J (Part 4): WebSocket, frames, RPC, schema validation
#   model/      device model, connectors and availability, transactions and their flash queue,
#               clock-aligned metering, firmware/log transfer state
#   certs/      keys, CSRs, certificates (optional: a board may leave it out)
#   hw/         meters over Modbus, connector contacts; adapters from the board
#   clock, log, store, sched    the ground floor: time, logging, atomic files, supervised tasks
# app.py wires them from a board and a configuration.
