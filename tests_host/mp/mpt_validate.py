# validate.py against the generated tables: each Part 4 error code from the payload that should cause it.
from mptest import eq
from station.transport import validate

HEAP = "160K"


def code(action, payload):
    err = validate.check(validate.request_node(action), payload)
    return err[0] if err else None


def test_valid_trigger_messages_pass():
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat"}), None)
    eq(code("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}), None)
    eq(code("TriggerMessage", {"requestedMessage": "MeterValues", "customData": {"vendorId": "x", "y": 1}}), None)


def test_each_violation_gets_its_part4_code():
    eq(code("TriggerMessage", {}), "OccurrenceConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Coffee"}), "PropertyConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": 7}), "TypeConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "extra": 1}), "FormatViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {}}), "OccurrenceConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": "1"}}), "TypeConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": True}}), "TypeConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "customData": {}}), "OccurrenceConstraintViolation")
    eq(code("TriggerMessage", []), "TypeConstraintViolation")
    eq(code("GetVariables", {"getVariableData": []}), "OccurrenceConstraintViolation")
    long = {"component": {"name": "x" * 51}, "variable": {"name": "v"}}
    eq(code("GetVariables", {"getVariableData": [long]}), "PropertyConstraintViolation")


def test_paths_name_the_offending_field():
    p = {"requestedMessage": "Heartbeat", "evse": {"id": 1.5}}
    err = validate.check(validate.request_node("TriggerMessage"), p)
    eq(err, ("TypeConstraintViolation", "$.evse.id"))


def test_date_times_are_checked():
    ok = {"currentTime": "2026-01-01T10:00:00Z", "interval": 10, "status": "Accepted"}
    eq(validate.check(validate.response_node("BootNotification"), ok), None)
    bad = dict(ok, currentTime="yesterday")
    eq(validate.check(validate.response_node("BootNotification"), bad)[0], "PropertyConstraintViolation")


def test_known_actions():
    assert validate.known("TriggerMessage") and validate.known("UnlockConnector")
    assert not validate.known("Coffee") and not validate.known("Trigger Message") and not validate.known(3)
